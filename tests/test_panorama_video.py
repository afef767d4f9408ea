"""Panorama videos (PyAV decoding in its own thread) on real GL, with videos the tests encode:
frames follow the session clock and stop with it, a bright cut is low-passed by the comfort guard
like any scene, the loop fades into its first frame instead of jumping, and a broken file falls
back to the safe scene."""

import time

import media_synth
import moderngl
import numpy as np
import pytest

from tidewell.core.frame_state import Posture
from tidewell.engine.render.scene_states import scene_state
from tidewell.engine.render.targets import OffscreenTarget
from tidewell.engine.render.video_decoder import VideoDecoder
from tidewell.engine.render.video_panorama import LOOP_FADE_S
from tidewell.scenes.catalog import load_scene

FPS = 30
SIZE = (320, 180)
W, H = 256, 128


def video_scene(tmp_path, name, levels, fps=FPS, **options):
    folder = media_synth.scene_folder(tmp_path, name, f"{name}.mp4")
    media_synth.write_video(folder / f"{name}.mp4", media_synth.level_frames(W, H, levels), fps=fps, **options)
    return load_scene(folder, "user")


def play(target, scene_id, seconds, fps=FPS, **fields):
    """Mean grey level of each frame drawn at `fps` of session time, the guide out of the way."""
    means = []
    for index in range(int(seconds * fps)):
        state = scene_state(scene_id, Posture.SEATED, t_s=index / fps, breath=0.0, calm=0.0, **fields)
        target.render(state)
        pixels = target.read_rgb().astype(float)
        means.append(float(np.median(pixels)))
    return np.array(means)


def wait_for_frames(target, scene_id):
    """Draws the first frame once so the decoder thread starts, then lets it fill its queue."""
    target.render(scene_state(scene_id, Posture.SEATED, t_s=0.0))
    media = target.renderer._compiled[scene_id].media
    media.decoder.first_frame()
    return media


def test_video_frames_follow_the_session_clock_and_stop_while_paused(tmp_path):
    ramp = np.linspace(40, 220, 60)  # 2 s, brighter every frame
    info = video_scene(tmp_path, "ramp", ramp)
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={"ramp": info}, strict=True)
    try:
        wait_for_frames(target, "ramp")
        played = play(target, "ramp", 1.0)
        paused = play(target, "ramp", 0.5, paused=True)
        frozen = play(target, "ramp", 0.5, scene_motion=False)
        media = target.renderer._compiled["ramp"].media
    finally:
        target.close()
    assert played[-1] > played[0] + 60  # about a second of the ramp went by
    assert np.all(np.diff(played) >= -2)  # never backwards
    assert np.ptp(paused[2:]) <= 2 and np.ptp(frozen[2:]) <= 2  # held on one frame
    assert media.media_t == pytest.approx(1.0, abs=0.1)  # paused and frozen time did not count


def test_a_bright_cut_in_a_video_is_low_passed_by_the_comfort_guard(tmp_path):
    levels = [30] * 30 + [230] * 3 + [30] * 27  # a 100 ms white flash a second in
    info = video_scene(tmp_path, "flash", levels)
    raw = OffscreenTarget(size=SIZE, comfort=False, scenes={"flash": info}, strict=True)
    guarded = OffscreenTarget(size=SIZE, comfort=True, scenes={"flash": info}, strict=True)
    try:
        for target in (raw, guarded):
            wait_for_frames(target, "flash")
        seen_raw = play(raw, "flash", 2.0)
        seen_guarded = play(guarded, "flash", 2.0)
    finally:
        raw.close()
        guarded.close()
    raw_jump = np.abs(np.diff(seen_raw)).max()
    guarded_jump = np.abs(np.diff(seen_guarded)).max()
    assert raw_jump > 100  # the video really flashes
    assert guarded_jump < 0.25 * raw_jump, (raw_jump, guarded_jump)
    assert seen_guarded.max() < seen_raw.max() - 60


def test_the_loop_fades_into_its_first_frame_instead_of_jumping(tmp_path):
    ramp = np.linspace(40, 200, 60)  # 2 s; at the loop it would jump from 200 back to 40
    info = video_scene(tmp_path, "loop", ramp)
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={"loop": info}, strict=True)
    try:
        wait_for_frames(target, "loop")
        seen = play(target, "loop", 3.0)
    finally:
        target.close()
    steps = np.abs(np.diff(seen))
    raw_jump = 160.0
    assert steps.max() < raw_jump / 6, steps.max()
    fade_frames = int(min(LOOP_FADE_S, 2.0 / 4) * FPS)
    assert fade_frames >= 10
    around_loop = seen[55:70]
    assert around_loop.min() < 70 and seen[44] > 150  # it did loop, through the fade


def test_the_decoder_keeps_a_few_frames_ahead_and_counts_what_it_drops(tmp_path):
    path = media_synth.write_video(tmp_path / "count.mp4", media_synth.level_frames(W, H, range(40, 100)))
    decoder = VideoDecoder(path, max_size=4096)
    try:
        assert decoder.first_frame().t_s == pytest.approx(0.0)
        assert decoder.duration_s == pytest.approx(2.0, abs=0.05)
        assert decoder.fps == pytest.approx(30.0)
        frame = None
        for _ in range(1000):  # jump half a second ahead: the frames in between are dropped
            frame = decoder.take(0.5)
            if frame is not None and frame.t_s >= 0.49:
                break
            time.sleep(0.01)  # polls the decoder thread; nothing here depends on how fast it is
        assert frame is not None and frame.t_s == pytest.approx(0.5, abs=0.02)
        assert decoder.dropped >= 10
        assert decoder.hardware in (None, "cuda", "vaapi", "videotoolbox", "d3d11va", "qsv")
    finally:
        decoder.close()
    assert not decoder._thread.is_alive()


def test_a_video_that_breaks_mid_file_keeps_its_last_frame_and_says_so(tmp_path):
    info = video_scene(tmp_path, "cut", np.linspace(40, 200, 90), faststart=True)
    data = info.panorama.media.read_bytes()
    info.panorama.media.write_bytes(data[: len(data) * 2 // 3])  # a copy that stopped short
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={"cut": info}, strict=False)
    try:
        wait_for_frames(target, "cut")
        seen = play(target, "cut", 4.0)
        problems = target.drain_problems()
        drawn = target.renderer.as_drawn(scene_state("cut")).scene
    finally:
        target.close()
    assert drawn == "cut"  # what could be decoded is shown
    assert seen.min() > 20  # never black
    assert seen.max() > 100  # it played the part it has
    assert all("cut.mp4" in p for p in problems), problems


def test_a_live_frame_loop_never_shows_a_half_uploaded_frame(tmp_path):
    """Live targets upload a frame in strips over the frames before it is due: the picture must be
    one whole video frame at every drawn frame, never the top of one over the bottom of another."""
    levels = [60, 190] * 30  # every frame differs from the last over the whole picture
    info = video_scene(tmp_path, "alternate", levels)
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={"alternate": info}, strict=True)
    target.renderer.wait_for_video = False  # as a window or a headset has it
    try:
        media = wait_for_frames(target, "alternate")
        worst = 0.0
        for index in range(60):
            time.sleep(0.005)  # lets the decoder thread fill its queue; how fast it is changes nothing below
            target.render(scene_state("alternate", Posture.SEATED, t_s=index / FPS, breath=0.0, calm=0.0))
            rows = np.median(target.read_rgb().astype(float), axis=(1, 2))
            worst = max(worst, float(rows.max() - rows.min()))
        shown = media.frames_shown
    finally:
        target.close()
    assert shown > 5  # frames really changed under the loop
    assert worst < 20, f"rows of one drawn frame differ by {worst:.0f} levels"


def test_a_decoder_that_falls_behind_is_reported_once_and_the_picture_holds(tmp_path, monkeypatch):
    info = video_scene(tmp_path, "slow", np.linspace(40, 200, 60))
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={"slow": info}, strict=False)
    target.renderer.wait_for_video = False
    try:
        media = wait_for_frames(target, "slow")
        monkeypatch.setattr(media.decoder, "take", lambda media_t, wait=False: None)  # nothing decoded in time
        seen = play(target, "slow", 4.0)
        problems = target.drain_problems()
    finally:
        target.close()
    assert np.ptp(seen) <= 2 and seen.min() > 20  # the last frame holds, never black
    behind = [p for p in problems if "cannot decode" in p]
    assert len(behind) == 1 and "slow.mp4" in behind[0] and "behind" in behind[0]


@pytest.mark.parametrize("size, minified", [((320, 180), True), ((1280, 720), False)])
def test_mipmaps_are_built_for_video_frames_only_where_the_view_shrinks_them(tmp_path, size, minified):
    folder = media_synth.scene_folder(tmp_path, "big", "big.mp4")
    media_synth.write_video(folder / "big.mp4", media_synth.level_frames(1024, 512, np.linspace(60, 180, 20)))
    target = OffscreenTarget(size=size, comfort=False, scenes={"big": load_scene(folder, "user")}, strict=True)
    try:
        media = wait_for_frames(target, "big")
        means = [float(np.median(target.read_rgb()))]
        for index in range(1, 12):
            target.render(scene_state("big", Posture.SEATED, t_s=index / FPS, breath=0.0, calm=0.0))
            means.append(float(np.median(target.read_rgb())))
        filters = {plane.filter for plane in media._sets[0]}
    finally:
        target.close()
    assert media.minified is minified
    expected = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR) if minified else (moderngl.LINEAR, moderngl.LINEAR)
    assert filters == {expected}
    assert means[-1] > means[1] + 30  # the video plays either way


def test_a_solid_colour_video_is_drawn_in_its_colour(tmp_path):
    """Encoded from RGB by FFmpeg's default (untagged, BT.601 for footage under 720 rows) and decoded
    in the shader by the same rule: the colour comes back within a few levels."""
    colour = (230, 200, 40)
    folder = media_synth.scene_folder(tmp_path, "yellow", "yellow.mp4")
    frames = [np.full((H, W, 3), colour, np.uint8) for _ in range(5)]
    media_synth.write_video(folder / "yellow.mp4", frames)
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={"yellow": load_scene(folder, "user")}, strict=True)
    try:
        pixels = target.snapshot(scene_state("yellow", Posture.SEATED, breath=0.0, calm=0.0), SIZE)
    finally:
        target.close()
    corner = pixels[:20, :20].reshape(-1, 3).mean(axis=0)  # away from the guide's halo
    assert np.abs(corner - colour).max() < 8, corner


def test_a_picture_that_fails_mid_session_gives_way_to_the_safe_scene(tmp_path, monkeypatch):
    info = video_scene(tmp_path, "fails", np.linspace(40, 200, 30))
    target = OffscreenTarget(size=SIZE, comfort=False, scenes={"fails": info}, strict=False)
    try:
        media = wait_for_frames(target, "fails")

        def broken(state, pixel_angle=None):
            raise RuntimeError("the driver lost the texture")

        monkeypatch.setattr(media, "update", broken)
        target.render(scene_state("fails", Posture.SEATED, t_s=1.0))
        pixels = target.read_rgb()
        problems = target.drain_problems()
        drawn = target.renderer.as_drawn(scene_state("fails")).scene
        assert not media.decoder._thread.is_alive()  # released with its program
    finally:
        target.close()
    assert drawn == "ember" and pixels.max() > 3
    assert any("fails.mp4: stopped: RuntimeError: the driver lost the texture" in p for p in problems), problems
