"""Headset maths, blend modes, presence ramps and the missing-runtime message: what runs without a
runtime. The session against a real runtime (Monado) is in tests/xr."""

from __future__ import annotations

import math
import queue
import subprocess

import moderngl
import numpy as np
import pytest

from tidewell.core.frame_state import Posture
from tidewell.engine.render import camera
from tidewell.engine.xr.presence import RAMP_S, HeadsetPresence
from tidewell.engine.xr.runtime import choose_blend_mode
from tidewell.engine.xr.views import BodyFrame, pose_matrix, projection_from_fov, quaternion_matrix
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions.controls import Control, drain
from tidewell.sessions.runner import SessionRunner


def _yaw(degrees: float) -> tuple[float, float, float, float]:
    half = math.radians(degrees) / 2
    return (0.0, math.sin(half), 0.0, math.cos(half))


def test_a_symmetric_field_of_view_gives_the_usual_perspective():
    half_y = math.radians(35.0)
    half_x = math.atan(math.tan(half_y) * 4 / 3)
    proj = projection_from_fov(-half_x, half_x, half_y, -half_y)
    np.testing.assert_allclose(proj, camera.perspective(70.0, 4 / 3), rtol=1e-5, atol=1e-6)


def test_an_asymmetric_field_of_view_maps_its_edges_to_the_clip_edges():
    left, right, up, down = -0.9, 0.6, 0.7, -0.8
    proj = projection_from_fov(left, right, up, down)
    for angle_x, angle_y, expected in (
        (left, 0.0, (-1, None)),
        (right, 0.0, (1, None)),
        (0.0, up, (None, 1)),
        (0.0, down, (None, -1)),
    ):
        point = np.array([math.tan(angle_x), math.tan(angle_y), -1.0, 1.0]) * 3.0
        clip = proj @ point
        ndc = clip[:2] / clip[3]
        for axis, value in enumerate(expected):
            if value is not None:
                assert ndc[axis] == pytest.approx(value, abs=1e-9)
    with pytest.raises(ValueError, match="bad field of view"):
        projection_from_fov(0.5, -0.5, 0.5, -0.5)


@pytest.mark.parametrize("posture", list(Posture))
def test_after_a_recenter_the_head_sees_the_postures_resting_view(posture):
    head = pose_matrix(_yaw(37.0), (0.3, 1.1, -0.2))  # wherever the head happens to be
    body = BodyFrame()
    body.recenter(head, posture)
    eye = body.eye_view(head, head, camera.perspective(70.0, 1.0))
    rest_view, _ = camera.view_projection(posture, aspect=1.0)
    np.testing.assert_allclose(eye.view, rest_view, atol=1e-5)
    np.testing.assert_allclose(eye.eye_pos, camera.eye_position(posture), atol=1e-6)
    assert body.recenters == 1


def test_only_the_head_moves_the_camera():
    """Between recenters the world stays put: turning the head 20 degrees turns the view by exactly
    that, and moving it 10 cm moves the eye 10 cm."""
    body = BodyFrame(Posture.SUPINE)
    start = pose_matrix(_yaw(0.0), (0.0, 0.0, 0.0))
    body.recenter(start)
    proj = camera.perspective(70.0, 1.0)
    first = body.eye_view(start, start, proj)
    turned = pose_matrix(_yaw(20.0), (0.0, 0.0, 0.0))
    second = body.eye_view(turned, turned, proj)
    forward_first = -np.linalg.inv(first.view)[:3, 2]
    forward_second = -np.linalg.inv(second.view)[:3, 2]
    angle = math.degrees(math.acos(np.clip(forward_first @ forward_second, -1.0, 1.0)))
    assert angle == pytest.approx(20.0, abs=1e-4)
    moved = pose_matrix(_yaw(0.0), (0.0, 0.0, -0.1))
    third = body.eye_view(moved, moved, proj)
    assert np.linalg.norm(third.eye_pos - first.eye_pos) == pytest.approx(0.1, abs=1e-6)
    assert body.recenters == 1


def test_the_two_eyes_sit_an_interpupillary_distance_apart_along_the_resting_right():
    body = BodyFrame(Posture.PRONE)
    head = pose_matrix(_yaw(0.0), (0.0, 0.0, 0.0))
    body.recenter(head)
    proj = camera.perspective(70.0, 1.0)
    left = body.eye_view(pose_matrix(_yaw(0.0), (-0.032, 0.0, 0.0)), head, proj)
    right = body.eye_view(pose_matrix(_yaw(0.0), (0.032, 0.0, 0.0)), head, proj)
    forward, up = camera.rest_axes(Posture.PRONE)
    rest_right = np.cross(forward, up)
    np.testing.assert_allclose(right.eye_pos - left.eye_pos, 0.064 * rest_right, atol=1e-6)
    np.testing.assert_allclose(left.head_pos, right.head_pos)


def test_quaternions_are_normalised():
    np.testing.assert_allclose(quaternion_matrix(0.0, 0.0, 0.0, 2.0), np.identity(3))
    np.testing.assert_allclose(quaternion_matrix(0.0, 0.0, 0.0, 0.0), np.identity(3))


def test_overlay_scenes_ask_for_the_real_room_where_the_runtime_offers_it():
    assert choose_blend_mode(["OPAQUE", "ALPHA_BLEND"], overlay=True) == "ALPHA_BLEND"
    assert choose_blend_mode(["ADDITIVE"], overlay=True) == "ADDITIVE"
    assert choose_blend_mode(["OPAQUE"], overlay=True) == "OPAQUE"  # a VR headset: the light on black
    assert choose_blend_mode(["ALPHA_BLEND", "OPAQUE"], overlay=False) == "OPAQUE"
    assert choose_blend_mode(["ADDITIVE"], overlay=False) == "ADDITIVE"  # see-through only headsets


def test_an_overlay_scene_keeps_its_alpha_so_the_room_shows_around_the_light():
    from tidewell.core.frame_state import FrameState
    from tidewell.engine.render.comfort import GuardedFrame
    from tidewell.engine.render.scene_renderer import SceneRenderer
    from tidewell.scenes.catalog import scan_scenes

    scenes, _ = scan_scenes()
    assert scenes["room_light"].overlay and not scenes["ember"].overlay
    ctx = moderngl.create_context(standalone=True, backend="egl")
    try:
        renderer = SceneRenderer(ctx, scenes, strict=True)
        guard = GuardedFrame(ctx)
        fbo = ctx.framebuffer(color_attachments=[ctx.texture((160, 120), 4)])
        state = FrameState(
            t_s=10.0,
            phase_index=0,
            phase_name="p",
            phase_elapsed_s=10.0,
            phase_progress=0.1,
            breath_phase=0.3,
            breath_stage=None,
            breath_level=0.7,
            pace_bpm=6.0,
            calm=0.5,
            posture=Posture.SEATED,
            scene="room_light",
            previous_scene=None,
            crossfade=1.0,
            fade=1.0,
        )
        alphas = []
        for keep in (True, False):
            guard.render(renderer, state, fbo, (160, 120), keep_alpha=keep)
            rgba = np.frombuffer(fbo.read(components=4), dtype=np.uint8).reshape(120, 160, 4)
            alphas.append(rgba[..., 3])
        kept, opaque = alphas
        assert kept[:10, :10].max() == 0, "away from the light the room shows through"
        assert kept.max() > 200, "the light itself covers the room"
        assert opaque.min() == 255, "ordinary output stays opaque"
    finally:
        ctx.release()


def _program():
    from tidewell.sessions.program import load_program, resolve_program

    return load_program(resolve_program("taster"))


@pytest.mark.parametrize("sound", ["continue", "fade"])
def test_taking_the_headset_off_pauses_and_putting_it_on_ramps_light_and_sound_back(sound):
    controls = queue.SimpleQueue()
    presence = HeadsetPresence(sound, controls)
    runner = SessionRunner(_program(), SimulatedHeart(), unattended=True, controls=controls)
    presence.step(0.0)
    runner.step(0.0)
    presence.taken_off()
    assert not runner.paused, "the presence asks; only the runner's next step pauses"
    runner.step(1.0)
    for t in np.arange(1.0, 6.0, 0.05):
        presence.step(t)
    assert runner.paused and presence.light == 0.0
    assert presence.sound == (1.0 if sound == "continue" else 0.0)
    presence.put_on()
    runner.step(6.0)
    assert not runner.paused
    assert [(e.kind, e.t_s) for e in runner.drain_events() if e.kind in ("pause", "resume")] == [
        ("pause", 1.0),
        ("resume", 6.0),
    ]
    levels = []
    for t in np.arange(6.0, 6.0 + RAMP_S + 0.5, 0.05):
        presence.step(t)
        levels.append(presence.light)
    steps = np.diff(levels)
    assert steps.min() >= 0 and steps.max() <= 0.05 / RAMP_S + 1e-9, "light returns in a ramp, never at once"
    assert levels[-1] == 1.0 and presence.sound == 1.0


def test_the_headset_puts_controls_on_the_queue_and_never_calls_the_runner():
    controls = queue.SimpleQueue()
    presence = HeadsetPresence("continue", controls)
    presence.taken_off()
    presence.put_on()
    assert drain(controls) == [Control("pause", by="headset"), Control("resume", by="headset")]


def test_a_therapists_pause_is_not_lifted_by_the_headset_coming_back():
    controls = queue.SimpleQueue()
    presence = HeadsetPresence("continue", controls)
    runner = SessionRunner(_program(), SimulatedHeart(), unattended=True, controls=controls)
    runner.step(0.0)
    controls.put(Control("toggle_pause"))  # the pause key
    runner.step(0.5)
    presence.taken_off()
    runner.step(1.0)
    presence.put_on()
    runner.step(2.0)
    assert runner.paused and runner.paused_by == "therapist"
    controls.put(Control("resume"))  # the therapist lifts it
    runner.step(3.0)
    assert not runner.paused


def test_without_a_runtime_xr_commands_say_what_to_install(cli_env, tidewell_cmd, tmp_path):
    cli_env["XR_RUNTIME_JSON"] = str(tmp_path / "no-such-runtime.json")
    for command in (["xr", "info"], ["run", "--target", "xr", "--minutes", "1"]):
        result = subprocess.run([*tidewell_cmd, *command], env=cli_env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 3, result.stderr
        assert f"XR_RUNTIME_JSON names {tmp_path / 'no-such-runtime.json'}, which does not exist" in result.stderr
        for name in ("SteamVR", "Monado", "WiVRn", "Meta Quest Link"):
            assert name in result.stderr
        assert "Traceback" not in result.stderr
    database = tmp_path / "data" / "tidewell.db"
    if database.exists():  # nothing was logged for a session that could not start
        import sqlite3

        with sqlite3.connect(database) as db:
            assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] == 0
