"""Panorama scenes on real GL (Mesa llvmpipe through EGL), with media the tests make themselves:
the marker shows where yaw says, per eye for stereo layouts; the seam and poles draw without an
artefact; photos and videos that cannot be shown fall back to the safe scene with a message."""

from dataclasses import replace
from pathlib import Path

import media_synth
import numpy as np
import pytest

from tidewell.core.frame_state import Posture
from tidewell.engine.render import camera
from tidewell.engine.render.panorama_media import StillPanorama
from tidewell.engine.render.scene_states import scene_state
from tidewell.engine.render.targets import OffscreenTarget
from tidewell.scenes.catalog import SceneError, load_scene
from tidewell.scenes.panorama_spec import PanoramaSpec

SIZE = (320, 180)
EYE = 0.032
# Largest difference (0..255) allowed between a drawn pixel and the picture's colour in that pixel's
# direction, seam and poles included: bilinear filtering and 8-bit rounding stay within a few levels;
# a seam line or a pole smudge from a wrong mipmap level is tens of levels off.
SEAM_POLE_TOLERANCE = 6.0


def still(root: Path, name: str, picture: np.ndarray, **keys):
    folder = media_synth.scene_folder(root, name, f"{name}.png", **keys)
    media_synth.write_image(folder / f"{name}.png", picture)
    return load_scene(folder, "user")


def target_for(*infos, strict=True) -> OffscreenTarget:
    return OffscreenTarget(size=SIZE, comfort=False, scenes={i.id: i for i in infos}, strict=strict)


def red_centroid(pixels: np.ndarray, channel: int = 0) -> tuple[float, float] | None:
    others = [c for c in range(3) if c != channel]
    mask = (pixels[..., channel] > 180) & (pixels[..., others[0]] < 120) & (pixels[..., others[1]] < 120)
    if mask.sum() < 5:
        return None
    rows, cols = np.nonzero(mask)
    return float(cols.mean()), float(rows.mean())


def projected(direction, posture=Posture.SEATED, eye_offset=0.0) -> tuple[float, float]:
    """Pixel (x, y from the top) where a world direction at infinity lands in a SIZE frame."""
    view, proj = camera.view_projection(posture, eye_offset_m=eye_offset, aspect=SIZE[0] / SIZE[1])
    clip = proj.astype(np.float64) @ view @ np.append(camera.eye_position(posture, eye_offset) + 1000.0 * direction, 1)
    x, y = clip[:2] / clip[3]
    return (x + 1) / 2 * SIZE[0], (1 - y) / 2 * SIZE[1]


def world_direction(yaw_deg: float, pitch_deg: float = 0.0) -> np.ndarray:
    yaw, pitch = np.radians(yaw_deg), np.radians(pitch_deg)
    return np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), -np.cos(pitch) * np.cos(yaw)])


@pytest.mark.parametrize("picture_yaw, yaw_deg", [(30.0, 0.0), (30.0, 30.0), (-20.0, 10.0)])
def test_the_marker_shows_where_yaw_says(tmp_path, picture_yaw, yaw_deg):
    info = still(tmp_path, "marker", media_synth.marker_picture(1024, 512, picture_yaw), yaw_deg=yaw_deg)
    target = target_for(info)
    try:
        pixels = target.snapshot(scene_state("marker", Posture.SEATED, calm=0.0), SIZE)
    finally:
        target.close()
    found = red_centroid(pixels)
    expected = projected(world_direction(picture_yaw - yaw_deg))
    assert found is not None, "the marker is not in view"
    assert abs(found[0] - expected[0]) < 0.02 * SIZE[0], (found, expected)
    assert abs(found[1] - expected[1]) < 0.03 * SIZE[1], (found, expected)


@pytest.mark.parametrize("layout", ["top-bottom", "side-by-side"])
def test_each_eye_sees_its_own_half_of_a_stereo_panorama(tmp_path, layout):
    info = still(tmp_path, "stereo", media_synth.stereo_markers(layout, 1024, 512, yaw_deg=0.0), layout=layout)
    target = target_for(info)
    try:
        state = scene_state("stereo", Posture.SEATED, calm=0.0)
        left = target.snapshot(state, SIZE, eye_offset_m=-EYE)
        right = target.snapshot(state, SIZE, eye_offset_m=EYE)
    finally:
        target.close()
    assert red_centroid(left, channel=0) is not None and red_centroid(left, channel=1) is None
    assert red_centroid(right, channel=1) is not None and red_centroid(right, channel=0) is None
    # the marker is straight ahead for both eyes (a sphere at infinity has no parallax)
    for pixels, channel in ((left, 0), (right, 1)):
        assert abs(red_centroid(pixels, channel)[0] - projected(world_direction(0.0))[0]) < 0.02 * SIZE[0]


def pixel_rays(posture: Posture) -> np.ndarray:
    """(H, W, 3) world direction through each pixel centre of a SIZE frame, top row first."""
    view, proj = camera.view_projection(posture, aspect=SIZE[0] / SIZE[1])
    inverse = np.linalg.inv(proj.astype(np.float64) @ view)
    xs = (np.arange(SIZE[0]) + 0.5) / SIZE[0] * 2 - 1
    ys = 1 - (np.arange(SIZE[1]) + 0.5) / SIZE[1] * 2
    x, y = np.meshgrid(xs, ys)
    far = np.stack([x, y, np.ones_like(x), np.ones_like(x)], axis=-1) @ inverse.T
    rays = far[..., :3] / far[..., 3:] - camera.eye_position(posture)
    return rays / np.linalg.norm(rays, axis=-1, keepdims=True)


@pytest.mark.parametrize(
    "posture, yaw_deg, where",
    [
        (Posture.SEATED, 180.0, "the seam straight ahead"),
        (Posture.SUPINE, 0.0, "the zenith"),
        (Posture.PRONE, 0.0, "the nadir"),
    ],
)
def test_seam_and_poles_draw_the_picture_without_artefact(tmp_path, posture, yaw_deg, where):
    info = still(tmp_path, "field", media_synth.smooth_field(2048, 1024), yaw_deg=yaw_deg)
    target = target_for(info)
    try:
        pixels = target.snapshot(scene_state("field", posture, calm=0.0), SIZE).astype(np.float64)
    finally:
        target.close()
    rays = pixel_rays(posture)
    yaw = np.radians(yaw_deg)  # what the picture holds at world direction d: d turned by +yaw about +y
    turned = np.stack(
        [
            rays[..., 0] * np.cos(yaw) - rays[..., 2] * np.sin(yaw),
            rays[..., 1],
            rays[..., 0] * np.sin(yaw) + rays[..., 2] * np.cos(yaw),
        ],
        axis=-1,
    )
    expected = media_synth.smooth_colour(turned)
    forward, up = camera.rest_axes(posture)
    guide = forward - 0.12 * up
    guide /= np.linalg.norm(guide)
    outside_guide = np.degrees(np.arccos(np.clip(rays @ guide, -1, 1))) > 15.0
    error = np.abs(pixels - expected).max(axis=-1)[outside_guide]
    assert outside_guide.mean() > 0.7
    assert error.max() <= SEAM_POLE_TOLERANCE, f"{where}: largest error {error.max():.1f} levels"


def test_a_picture_larger_than_the_gpu_allows_is_shown_downscaled_with_a_message(tmp_path):
    folder = media_synth.scene_folder(tmp_path, "big", "big.png")
    path = media_synth.write_image(folder / "big.png", media_synth.smooth_field(1024, 512))
    target = target_for(load_scene(folder, "user"))
    try:
        media = StillPanorama(target.ctx, PanoramaSpec(path, is_video=False), max_size=512)
        assert media.texture.size == (512, 256)
        assert "larger than this GPU's largest texture (512); shown at 512x256" in media.problems[0]
        media.release()
    finally:
        target.close()


@pytest.mark.parametrize(
    "name, make, says",
    [
        (
            "tiny.png",
            lambda p: media_synth.write_image(p, np.zeros((1, 1, 3), np.uint8)),
            "1x1 pixels is not an equirectangular mono panorama",
        ),
        (
            "square.png",
            lambda p: media_synth.write_image(p, media_synth.smooth_field(512, 512)),
            "expected width:height 2:1",
        ),
        (
            "small.png",
            lambda p: media_synth.write_image(p, media_synth.smooth_field(32, 16)),
            "too small for a panorama",
        ),
        ("text.png", lambda p: p.write_text("not a picture"), "cannot read the image"),
        ("text.mp4", lambda p: p.write_text("not a video"), "FFmpeg cannot read it"),
    ],
)
def test_a_picture_that_cannot_be_shown_falls_back_to_the_safe_scene_with_a_message(tmp_path, name, make, says):
    folder = media_synth.scene_folder(tmp_path, "broken", name)
    make(folder / name)
    info = load_scene(folder, "user")
    target = target_for(info, strict=False)
    try:
        target.render(scene_state("broken", Posture.SEATED))
        pixels = target.read_rgb()
        problems = target.drain_problems()
        assert target.renderer.as_drawn(scene_state("broken")).scene == "ember"
    finally:
        target.close()
    assert pixels.max() > 3, "a session never goes black"
    assert any(str(folder / name) in p and says in p for p in problems), problems
    with pytest.raises(SceneError, match=says):
        strict = target_for(info)
        try:
            strict.render(scene_state("broken", Posture.SEATED))
        finally:
            strict.close()


@pytest.mark.parametrize(
    "keys, says",
    [
        ({"image": "missing.png"}, "key 'image': expected a file in the scene's folder"),
        ({"image": "a.png", "video": "a.mp4"}, "exactly one of image = FILE and video = FILE"),
        ({"image": "a.gif"}, "a file name ending in .jpg, .jpeg, .png, .webp"),
        ({"image": "a.png", "layout": "over-under"}, "key 'layout': expected mono | top-bottom | side-by-side"),
        ({"image": "a.png", "yaw_deg": 720}, "key 'yaw_deg': expected degrees from -360 to 360"),
    ],
)
def test_panorama_keys_that_are_wrong_are_named_with_file_and_line(tmp_path, keys, says):
    folder = tmp_path / "bad"
    folder.mkdir()
    media_synth.write_image(folder / "a.png", media_synth.smooth_field(64, 32))
    lines = ['id = "bad"', 'title = "Bad"', 'description = "x"', 'postures = ["seated"]', 'kind = "panorama"']
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in keys.items()]
    (folder / "scene.toml").write_text("\n".join(lines) + "\n")
    with pytest.raises(SceneError) as raised:
        load_scene(folder, "user")
    assert says in str(raised.value)
    assert str(raised.value).startswith(f"{folder / 'scene.toml'}:")
    line = int(str(raised.value).split(":")[1])
    assert line >= 5  # the offending key's own line, not the file's top


def test_a_shader_scene_may_not_carry_panorama_keys(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "scene.frag").write_text(
        "#version 330 core\nuniform float u_fade; out vec4 c; void main(){c=vec4(u_fade);}\n"
    )
    (folder / "scene.toml").write_text(
        'id = "mixed"\ntitle = "M"\ndescription = "x"\npostures = ["seated"]\nlayout = "mono"\n'
    )
    with pytest.raises(SceneError, match="scene.toml:5: key 'layout': expected kind = \"panorama\""):
        load_scene(folder, "user")


def test_the_breathing_guide_swells_and_fades_with_the_scene(tmp_path):
    info = still(tmp_path, "calm", np.full((512, 1024, 3), 60, np.uint8))
    target = target_for(info)
    try:
        out = target.snapshot(scene_state("calm", Posture.SUPINE, breath=0.0, calm=0.0), SIZE).astype(float)
        full = target.snapshot(scene_state("calm", Posture.SUPINE, breath=1.0, calm=0.0), SIZE).astype(float)
        calm = target.snapshot(scene_state("calm", Posture.SUPINE, breath=1.0, calm=1.0), SIZE).astype(float)
        dark = target.snapshot(scene_state("calm", Posture.SUPINE, breath=1.0, fade=0.0), SIZE)
    finally:
        target.close()
    lit = lambda p: (p.mean(axis=-1) > 75).sum()  # noqa: E731 - pixels the halo lifts above the picture
    assert lit(full) > 1.5 * lit(out) > 0
    centre = (SIZE[1] // 2, SIZE[0] // 2)
    assert full[centre].mean() > out[centre].mean() + 20  # lying face-up the guide is overhead: ahead
    assert calm.mean() < full.mean()  # calm darkens and warms a little
    assert dark.max() == 0  # fade 0: black, like every scene


def test_a_panorama_frozen_by_a_precaution_still_follows_the_breath(tmp_path):
    info = still(tmp_path, "still", media_synth.marker_picture(1024, 512, 0.0))
    target = target_for(info)
    try:
        state = scene_state("still", Posture.SEATED, breath=0.2)
        a = target.snapshot(replace(state, scene_motion=False), SIZE)
        b = target.snapshot(replace(state, scene_motion=False, t_s=99.0, breath_level=0.9), SIZE)
    finally:
        target.close()
    assert np.abs(a.astype(int) - b.astype(int)).max() > 20  # the halo changed


@pytest.mark.parametrize("posture, yaw_deg", [(Posture.SEATED, 180.0), (Posture.SUPINE, 0.0), (Posture.PRONE, 0.0)])
def test_a_magnified_picture_samples_its_full_resolution_at_the_seam_and_the_poles(tmp_path, posture, yaw_deg):
    """Every mipmap level but the first is painted red: where the picture is magnified (here
    everywhere) nothing red may show. A level of detail taken from the texture coordinates' derivatives
    jumps at the seam (u wraps from 1 to 0) and grows without bound at the poles: red there. (Mesa's
    llvmpipe happens to hide the seam case; GPUs do not.)"""
    info = still(tmp_path, "levels", np.full((512, 1024, 3), (40, 200, 40), np.uint8), yaw_deg=yaw_deg)
    size = (640, 360)
    target = OffscreenTarget(size=size, comfort=False, scenes={"levels": info}, strict=True)
    try:
        state = scene_state("levels", posture, breath=0.0, calm=0.0)
        target.snapshot(state, size)
        texture = target.renderer._compiled["levels"].media.texture
        width, height = texture.size
        for level in range(1, int(np.log2(max(width, height))) + 1):
            w, h = max(1, width >> level), max(1, height >> level)
            texture.write(np.full((h, w, 3), (230, 20, 20), np.uint8).tobytes(), level=level)
        pixels = target.snapshot(state, size).astype(int)
    finally:
        target.close()
    reddish = (pixels[..., 0] > pixels[..., 1]).sum()
    assert reddish == 0, f"{reddish} pixels sampled a blurred level"
