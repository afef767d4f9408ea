"""Comfort rules, checked by rendering frame sequences offscreen: no camera motion of the engine's
own, no large-area luminance change of more than 10% faster than 1 Hz in any shipped scene, and the
engine's guard against a scene that flickers anyway."""

import math

import moderngl
import numpy as np
import pytest

from tidewell.core.frame_state import BreathStage, FrameState, Posture
from tidewell.engine.render.comfort import GuardedFrame
from tidewell.engine.render.scene_renderer import SceneRenderer
from tidewell.scenes.catalog import available_scenes, load_scene

SIZE = (64, 36)
FPS = 10.0

PROBE_TOML = 'id = "{id}"\ntitle = "probe"\ndescription = "test probe"\npostures = ["seated", "supine", "prone"]\n'
PROBE_HEAD = """#version 330 core
in vec2 v_ndc;
out vec4 frag_color;
uniform float u_time;
uniform float u_breath;
uniform float u_fade;
uniform mat4 u_inv_view_proj;
uniform vec3 u_eye_pos;
"""
VIEW_RAY_PROBE = (
    PROBE_HEAD
    + """
void main() {
    vec4 far = u_inv_view_proj * vec4(v_ndc, 1.0, 1.0);
    vec3 ray = normalize(far.xyz / far.w - u_eye_pos);
    frag_color = vec4((ray * 0.5 + 0.5) * u_fade, 1.0);
}
"""
)
FLICKER_PROBE = (
    PROBE_HEAD
    + """
void main() {
    float flash = sin(6.2831853 * 3.0 * u_time) > 0.0 ? 1.0 : 0.0;   // a 3 Hz flash over the whole view
    float breathing = 0.3 * sin(6.2831853 * 0.1 * u_time);            // a slow 0.1 Hz swell
    frag_color = vec4(vec3(0.3 * (1.0 + breathing) + 0.25 * flash) * u_fade, 1.0);
}
"""
)


class LuminanceMeter:
    """What reaches the eye: mean luminance of a framebuffer from a small nearest-sampled copy (a 32x18 grid of samples)."""

    def __init__(self, ctx: moderngl.Context):
        self.ctx = ctx
        self._small = ctx.framebuffer(color_attachments=[ctx.texture((32, 18), 4)])

    def measure(self, fbo: moderngl.Framebuffer) -> float:
        self.ctx.copy_framebuffer(self._small, fbo)
        rgb = np.frombuffer(self._small.read(components=3, alignment=1), dtype=np.uint8).reshape(-1, 3) / 255.0
        return float((rgb @ np.array([0.2126, 0.7152, 0.0722])).mean())

    def release(self) -> None:
        self._small.color_attachments[0].release()
        self._small.release()


def frame(scene, t, posture=Posture.SEATED, breath=None):
    level = 0.5 - 0.5 * math.cos(2 * math.pi * t / 10.0) if breath is None else breath
    return FrameState(
        t_s=t,
        phase_index=0,
        phase_name="p",
        phase_elapsed_s=t,
        phase_progress=0.5,
        breath_phase=(t / 10.0) % 1.0,
        breath_stage=BreathStage.INHALE,
        breath_level=level,
        pace_bpm=6.0,
        calm=0.5,
        posture=posture,
        scene=scene,
        previous_scene=None,
        crossfade=1.0,
        fade=1.0,
    )


def probe(tmp_path, scene_id, shader):
    folder = tmp_path / scene_id
    folder.mkdir()
    (folder / "scene.toml").write_text(PROBE_TOML.format(id=scene_id))
    (folder / "scene.frag").write_text(shader)
    return load_scene(folder)


@pytest.fixture(scope="module")
def ctx():
    context = moderngl.create_context(standalone=True, backend="egl")
    yield context
    context.release()


def render_sequence(ctx, scenes, scene_id, posture, seconds, guarded=False, fps=FPS):
    """Mean luminance (and pixels) of each frame as it reaches the eye, with or without the guard."""
    renderer = SceneRenderer(ctx, scenes)
    meter = LuminanceMeter(ctx)
    comfort = GuardedFrame(ctx) if guarded else None
    fbo = ctx.framebuffer(color_attachments=[ctx.texture(SIZE, 4)])
    lum, images = [], []
    for i in range(int(seconds * fps)):
        state = frame(scene_id, 10.0 + i / fps, posture)
        if comfort:
            comfort.render(renderer, state, fbo, SIZE)
        else:
            renderer.render(state, fbo, SIZE)
        lum.append(meter.measure(fbo))
        images.append(np.frombuffer(fbo.read(components=3), np.uint8).copy())
    renderer.release()
    meter.release()
    if comfort:
        comfort.release()
    return np.array(lum), images


def fast_change(lum, fps=FPS):
    """Largest deviation from the 1-second moving average, relative to the mean: the part of the
    luminance that changes faster than 1 Hz."""
    window = int(fps)
    slow = np.convolve(lum, np.ones(window) / window, mode="valid")
    centred = lum[window // 2 : window // 2 + len(slow)]
    return float(np.max(np.abs(centred - slow)) / max(lum.mean(), 1e-3))


SHIPPED = [(scene.id, posture) for scene in available_scenes().values() for posture in scene.postures]


@pytest.mark.parametrize("scene_id,posture", SHIPPED, ids=[f"{s}-{p.value}" for s, p in SHIPPED])
def test_no_shipped_scene_changes_large_area_luminance_by_10_percent_faster_than_1_hz(ctx, scene_id, posture):
    lum, _ = render_sequence(ctx, available_scenes(), scene_id, posture, seconds=20.0)
    assert lum.mean() > 0.002, "the scene should not be black"
    assert fast_change(lum) < 0.10, f"{scene_id} ({posture.value}) flickers: {fast_change(lum):.1%}"
    per_second = np.abs(np.diff(lum[:: int(FPS)])) / max(lum.mean(), 1e-3)
    assert per_second.max() < 0.5  # even the breathing swell stays gentle second to second


def test_the_engine_never_moves_the_camera_on_its_own(ctx, tmp_path):
    scenes = {"view_probe": probe(tmp_path, "view_probe", VIEW_RAY_PROBE)}
    for posture in Posture:
        _, images = render_sequence(ctx, scenes, "view_probe", posture, seconds=3.0, fps=5.0)
        assert all(np.array_equal(images[0], image) for image in images[1:]), posture
    _, seated = render_sequence(ctx, scenes, "view_probe", Posture.SEATED, seconds=0.2, fps=5.0)
    _, supine = render_sequence(ctx, scenes, "view_probe", Posture.SUPINE, seconds=0.2, fps=5.0)
    assert not np.array_equal(seated[0], supine[0])  # posture, not time, orients the world


def test_the_guard_tames_a_flickering_scene_but_keeps_slow_breathing(ctx, tmp_path):
    scenes = {"flicker": probe(tmp_path, "flicker", FLICKER_PROBE)}
    raw, _ = render_sequence(ctx, scenes, "flicker", Posture.SEATED, seconds=20.0, fps=30.0)
    guarded, _ = render_sequence(ctx, scenes, "flicker", Posture.SEATED, seconds=20.0, guarded=True, fps=30.0)
    assert fast_change(raw, fps=30.0) > 0.3  # the probe really does flash
    assert fast_change(guarded[30:], fps=30.0) < 0.10  # what reaches the eye does not
    t = np.arange(len(raw)) / 30.0
    swell = np.sin(2 * np.pi * 0.1 * (10.0 + t))
    kept = np.polyfit(swell[60:], guarded[60:], 1)[0] / np.polyfit(swell[60:], raw[60:], 1)[0]
    assert kept > 0.8  # the 0.1 Hz breathing swell passes almost untouched


def test_for_a_headset_the_guard_draws_only_the_scenes_render_size_in_the_corner(ctx):
    """upscale=False (the headset): the exposure pass writes the render-scale rectangle that the
    layer's image rect names, the same picture the window gets scaled up, and nothing else."""
    scenes = available_scenes()
    renderer = SceneRenderer(ctx, scenes)
    size = (96, 72)
    state = frame("ember", 12.0)
    full, corner = (ctx.framebuffer(color_attachments=[ctx.texture(size, 4)]) for _ in range(2))
    guards = GuardedFrame(ctx), GuardedFrame(ctx)
    try:
        assert guards[0].render(renderer, state, full, size) == size
        corner.use()
        corner.clear(1.0, 0.0, 1.0, 1.0)
        drawn = guards[1].render(renderer, state, corner, size, upscale=False)
        scale = scenes["ember"].render_scale
        assert scale < 1.0 and drawn == (round(96 * scale), round(72 * scale))
        image = np.frombuffer(corner.read(components=3), np.uint8).reshape(72, 96, 3)  # bottom row first
        inside, outside = image[: drawn[1], : drawn[0]], image.copy()
        outside[: drawn[1], : drawn[0]] = (255, 0, 255)
        assert (outside == (255, 0, 255)).all(), "nothing is drawn outside the image rect"
        assert not (inside == (255, 0, 255)).all(axis=2).any() and inside.max() > 60, "the ember fills it"
        upscaled = np.frombuffer(full.read(components=3), np.uint8).reshape(72, 96, 3).astype(float)
        assert abs(inside.mean() - upscaled.mean()) < 3.0, "the same picture, at the scene's own size"
    finally:
        renderer.release()
        for item in (*guards, full, corner):
            item.release()
