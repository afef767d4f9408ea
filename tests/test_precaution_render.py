"""What the precautions change on screen, rendered offscreen and read back: still scenes for motion
sickness, and the photosensitive comfort profile (slower light changes, lower contrast, a dimmer picture)."""

import dataclasses
import math

import moderngl
import numpy as np
import pytest

from tidewell.core.frame_state import BreathStage, FrameState, Posture
from tidewell.engine.render.comfort import PROFILES, GuardedFrame
from tidewell.engine.render.scene_renderer import SceneRenderer
from tidewell.scenes.catalog import available_scenes, load_scene

SIZE = (64, 36)
STRIPES = """#version 330 core
in vec2 v_ndc;
out vec4 frag_color;
uniform float u_time;
uniform float u_fade;
void main() {
    float stripes = step(0.0, sin(v_ndc.x * 20.0));                  // high-contrast bars
    float flash = sin(6.2831853 * 3.0 * u_time) > 0.0 ? 0.5 : 0.0;    // and a 3 Hz flash
    frag_color = vec4(vec3(0.1 + 0.8 * stripes * (0.5 + flash)) * u_fade, 1.0);
}
"""


def state(scene, t, breath=0.5, **rules):
    return FrameState(
        t_s=t,
        phase_index=0,
        phase_name="p",
        phase_elapsed_s=t,
        phase_progress=0.5,
        breath_phase=0.0,
        breath_stage=BreathStage.INHALE,
        breath_level=breath,
        pace_bpm=6.0,
        calm=0.5,
        posture=Posture.SEATED,
        scene=scene,
        previous_scene=None,
        crossfade=1.0,
        fade=1.0,
        **rules,
    )


@pytest.fixture(scope="module")
def ctx():
    context = moderngl.create_context(standalone=True, backend="egl")
    yield context
    context.release()


def pixels(ctx, renderer, states, guard=None):
    fbo = ctx.framebuffer(color_attachments=[ctx.texture(SIZE, 4)])
    images = []
    for s in states:
        if guard is None:
            renderer.render(s, fbo, SIZE)
        else:
            guard.render(renderer, s, fbo, SIZE)
        images.append(np.frombuffer(fbo.read(components=3), np.uint8).reshape(SIZE[1], SIZE[0], 3) / 255.0)
    fbo.release()
    return images


@pytest.mark.parametrize("scene_id", ["dusk_ocean", "forest_canopy", "sea_floor"])
def test_with_motion_sickness_the_scene_stands_still_and_only_the_breath_changes_it(ctx, scene_id):
    renderer = SceneRenderer(ctx, available_scenes())
    moving = pixels(ctx, renderer, [state(scene_id, t) for t in (5.0, 13.0)])
    still = pixels(ctx, renderer, [state(scene_id, t, scene_motion=False) for t in (5.0, 13.0)])
    breathing = pixels(ctx, renderer, [state(scene_id, 5.0, breath=b, scene_motion=False) for b in (0.0, 1.0)])
    renderer.release()
    assert not np.array_equal(moving[0], moving[1]), "the scene moves on its own without the precaution"
    assert np.array_equal(still[0], still[1]), "with it, time moves nothing"
    assert not np.array_equal(breathing[0], breathing[1]), "the breath still swells"


def test_the_photosensitive_profile_lowers_contrast_dims_the_picture_and_slows_flashes(ctx, tmp_path):
    folder = tmp_path / "stripes"
    folder.mkdir()
    (folder / "scene.toml").write_text(
        'id = "stripes"\ntitle = "t"\ndescription = "d"\npostures = ["seated", "supine", "prone"]\n'
    )
    (folder / "scene.frag").write_text(STRIPES)
    renderer = SceneRenderer(ctx, {"stripes": load_scene(folder)})
    fps, seconds = 30.0, 6.0
    times = [10.0 + i / fps for i in range(int(fps * seconds))]
    results = {}
    for profile in ("standard", "photosensitive"):
        guard = GuardedFrame(ctx)
        images = pixels(ctx, renderer, [state("stripes", t, comfort=profile) for t in times], guard)
        guard.release()
        luminance = np.array([img.mean() for img in images])
        window = int(fps)
        slow = np.convolve(luminance, np.ones(window) / window, mode="valid")
        centred = luminance[window // 2 : window // 2 + len(slow)]
        results[profile] = {
            "flash": float(np.max(np.abs(centred - slow)[window:]) / luminance.mean()),
            "contrast": float(np.mean([img.std() for img in images[window:]])),
            "mean": float(luminance[window:].mean()),
        }
    renderer.release()
    standard, strict = results["standard"], results["photosensitive"]
    assert strict["flash"] < 0.6 * standard["flash"], results  # 1.0 s against 0.5 s: about half the flash
    assert strict["contrast"] < 0.75 * standard["contrast"], results  # 60% contrast
    assert strict["mean"] == pytest.approx(PROFILES["photosensitive"].brightness * standard["mean"], rel=0.05)


def test_the_standard_profile_leaves_the_scene_as_drawn():
    standard = PROFILES["standard"]
    assert standard.contrast == 1.0 and standard.brightness == 1.0
    assert math.isclose(standard.tau_s, 0.5)
    assert dataclasses.replace(standard) == standard
