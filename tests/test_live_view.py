"""The console's live view (engine/render/live_view.py) on a real offscreen target (EGL, llvmpipe): what it
sends looks like the frame, comes at most once a period, is read back asynchronously, and a failure only
turns it off."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tidewell.engine.render.live_view import LiveView, live_size
from tidewell.engine.render.scene_states import scene_state

SIZE = (640, 360)
SCENE = "ember"


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def target():
    from tidewell.engine.render.targets import OffscreenTarget

    offscreen = OffscreenTarget(SIZE)
    yield offscreen
    offscreen.close()


def attach(target, period_s=0.33, on_jpeg=None, **options):
    clock = FakeClock()
    received: list[bytes] = []
    live = LiveView(target.ctx, period_s=period_s, on_jpeg=on_jpeg or received.append, clock=clock, **options)
    target.live_view = live
    return live, clock, received


def decoded(jpeg: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(jpeg))
    assert image.format == "JPEG"
    return np.asarray(image.convert("RGB"))


def test_the_image_is_the_frame_small_and_arrives_a_frame_later(target):
    live, clock, received = attach(target)
    target.render(scene_state(SCENE, t_s=5.0))
    frame = target.read_rgb()
    live.flush()
    assert received == [] and live.reads == 1  # read started; not mapped until a later frame

    clock.t += 0.02
    target.render(scene_state(SCENE, t_s=5.02))  # maps the first read; no new one (within the period)
    live.flush()
    assert len(received) == 1 and live.reads == 1

    image = decoded(received[0])
    assert image.shape == (270, 480, 3) and live_size(SIZE) == (480, 270)
    expected = np.asarray(Image.fromarray(frame).resize((480, 270), Image.Resampling.BOX), dtype=np.float32)
    assert frame.std() > 5.0  # the scene has something to compare (not a flat frame)
    assert np.abs(image.astype(np.float32) - expected).mean() < 6.0
    assert live.problems == []


def test_at_most_one_image_per_period(target):
    live, clock, received = attach(target, period_s=0.5)
    state = scene_state(SCENE)
    frames, dt = 60, 1.0 / 30.0  # 2 s of frames at 30 Hz
    for _ in range(frames):
        target.render(state)
        clock.t += dt
    target.render(state)  # collects the last read
    live.flush()
    periods = frames * dt / 0.5
    assert live.reads == pytest.approx(periods, abs=1)
    assert len(received) == live.reads  # the worker kept up: nothing dropped here
    assert all(decoded(jpeg).shape == (270, 480, 3) for jpeg in received)


def test_a_failing_receiver_turns_it_off_and_the_frames_go_on(target):
    def refuse(jpeg: bytes) -> None:
        raise OSError("the console went away")

    live, clock, _ = attach(target, period_s=0.1, on_jpeg=refuse)
    state = scene_state(SCENE)
    for _ in range(3):
        target.render(state)
        live.flush()
        clock.t += 0.2
    assert not live.enabled
    assert live.problems == ["live view off: OSError: the console went away"]  # one message
    reads = live.reads
    for _ in range(3):
        target.render(state)  # the target keeps drawing; the live view stays off
        clock.t += 0.2
    assert live.reads == reads
    assert target.read_rgb().std() > 5.0


def test_a_failing_encoder_turns_it_off(target, monkeypatch):
    import tidewell.engine.render.live_view as live_view

    def broken(*args, **kwargs):
        raise ValueError("no encoder")

    monkeypatch.setattr(live_view, "encode_jpeg", broken)
    live, clock, received = attach(target)
    for _ in range(2):
        target.render(scene_state(SCENE))
        live.flush()
        clock.t += 0.5
    assert received == [] and not live.enabled
    assert live.problems == ["live view off: ValueError: no encoder"]


def test_a_gl_failure_turns_it_off_without_raising(target):
    live, clock, received = attach(target)
    released = target.ctx.texture((8, 8), 4)
    released.release()
    live.offer(released)  # a released texture: the pass fails inside offer
    assert not live.enabled and len(live.problems) == 1
    target.render(scene_state(SCENE))
    assert received == []


def test_close_joins_the_worker(target):
    live, clock, received = attach(target)
    target.render(scene_state(SCENE))
    clock.t += 0.02
    target.render(scene_state(SCENE))
    live.close()
    assert not live._worker.is_alive()
    live.offer(target.fbo)  # after close: nothing, and no error
    assert live.problems == []


def test_a_texture_and_its_drawn_rectangle(target):
    """A headset's eye: a texture the scene was drawn into at its bottom-left corner only."""
    ctx = target.ctx
    texture = ctx.texture((1000, 800), 4)
    pixels = np.zeros((800, 1000, 4), np.uint8)  # rows bottom first, as GL stores them
    pixels[:400, :800] = (200, 40, 40, 255)  # the drawn rectangle, 800x400
    pixels[400:, :] = (0, 255, 0, 255)  # outside it: must not show
    pixels[:, 800:] = (0, 255, 0, 255)
    texture.write(pixels.tobytes())
    received: list[bytes] = []
    live = LiveView(ctx, on_jpeg=received.append, clock=FakeClock())
    live.offer(texture, (800, 400))
    live.offer(texture, (800, 400))
    live.flush()
    live.close()
    image = decoded(received[0]).astype(np.float32)
    assert image.shape == (240, 480, 3)
    assert np.abs(image - (200, 40, 40)).mean() < 4.0


# -- the console: the hub keeps the latest image; the WebSocket sends it to a page that asked ----------


@pytest.fixture
def served(tmp_path):
    from starlette.testclient import TestClient

    from tidewell.engine.console.app import ConsoleConfig, build_app
    from tidewell.engine.console.auth import Pairing
    from tidewell.engine.console.hub import ConsoleHub, StartRequest

    codes = []
    hub = ConsoleHub()
    app = build_app(ConsoleConfig(tmp_path / "tidewell.db", hub, Pairing(codes.append), lambda scene: b""))
    client = TestClient(app, base_url="http://127.0.0.1")
    token = client.post("/api/pair", json={"code": codes[-1]}, headers={"Origin": "http://127.0.0.1"}).json()["token"]
    hub.request_start(StartRequest("c", 1, "taster", None, {}), "s1")
    hub.session_began(7, 1, {"id": "taster", "title": "Taster", "minutes": 3, "phases": []})
    hub.frame(scene_state(SCENE, t_s=12.0, hr_bpm=71.0))
    return hub, client, {"Authorization": f"Bearer {token}"}


def _next_message(ws) -> dict:
    message = ws.receive()
    assert message["type"] == "websocket.send"
    return message


def _json_with_event(ws, detail: str) -> dict:
    """The next message, which must be the JSON view carrying the marker `detail` (no image before it)."""
    message = _next_message(ws)
    assert message.get("text") is not None, "an image came that the page had not asked for"
    import json

    view = json.loads(message["text"])
    assert [e["detail"] for e in view["events"]] == [detail]
    return view


def test_the_page_that_asks_gets_the_image_as_a_binary_message_and_can_stop_it(served):
    hub, client, headers = served
    hub.live_image(b"\xff\xd8first")
    with client.websocket_connect("ws://127.0.0.1/ws/live?live_view=1", headers=headers) as ws:
        assert _next_message(ws).get("text") is not None  # the view first
        assert _next_message(ws).get("bytes") == b"\xff\xd8first"
        hub.live_image(b"\xff\xd8second")
        assert _next_message(ws).get("bytes") == b"\xff\xd8second"  # each new image once
        ws.send_json({"live_view": False})
        hub.event(20.0, "marker", "one", 0)
        _json_with_event(ws, "one")
        hub.live_image(b"\xff\xd8third")
        hub.event(21.0, "marker", "two", 0)
        _json_with_event(ws, "two")
        hub.event(22.0, "marker", "three", 0)
        _json_with_event(ws, "three")  # still no image
        ws.send_json({"live_view": True})
        assert _next_message(ws).get("bytes") == b"\xff\xd8third"


def test_a_page_that_did_not_ask_gets_no_image_and_a_session_end_clears_it(served):
    hub, client, headers = served
    hub.live_image(b"\xff\xd8image")
    with client.websocket_connect("ws://127.0.0.1/ws/live", headers=headers) as ws:
        assert _next_message(ws).get("text") is not None
        hub.event(20.0, "marker", "one", 0)
        _json_with_event(ws, "one")
        hub.event(21.0, "marker", "two", 0)
        _json_with_event(ws, "two")
    assert hub.live_latest()[1] == b"\xff\xd8image"
    hub.session_ended("completed")
    assert hub.live_latest()[1] is None  # kept in memory for the session only


# -- where a console session's live view comes from ---------------------------------------------------


def test_a_headless_console_session_shows_the_scene_drawn_offscreen_on_its_own_thread(monkeypatch):
    from tidewell.engine.console.live_preview import SessionLiveView

    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    received: list[bytes] = []
    live = SessionLiveView(received.append, target="auto", headless=True)
    live._preview.period_s = 0.05  # more pictures, sooner: the test only waits for them
    try:
        import time

        deadline = time.monotonic() + 60.0
        while len(received) < 2 and time.monotonic() < deadline:
            live.frame(scene_state(SCENE, t_s=10.0 + time.monotonic() % 1.0))
            time.sleep(0.02)
    finally:
        problems = live.close()
    assert problems == []
    assert len(received) >= 2
    image = decoded(received[-1])
    assert image.shape == (270, 480, 3) and image.std() > 3.0
    assert not live._preview._thread.is_alive()


def test_a_console_with_no_live_view_says_so_to_the_page():
    from tidewell.engine.cli import _parser
    from tidewell.engine.console.hub import ConsoleHub

    assert _parser().parse_args(["console", "--no-live-view"]).live_view is False
    assert _parser().parse_args(["console"]).live_view is True
    assert ConsoleHub(live_view=False).snapshot()["live_view"] is False


def test_the_live_view_leaves_the_targets_texture_and_framebuffer_as_they_were():
    import moderngl

    from tidewell.engine.render.live_view import LiveView

    ctx = moderngl.create_context(standalone=True, backend="egl")
    try:
        texture = ctx.texture((640, 360), 4)
        texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
        eye = ctx.framebuffer(color_attachments=[texture])
        other = ctx.simple_framebuffer((100, 50))
        other.use()
        ctx.viewport = (0, 0, 100, 50)
        live = LiveView(ctx, period_s=0.0, on_jpeg=lambda jpeg: None)
        live.offer(eye)
        assert texture.filter == (moderngl.NEAREST, moderngl.NEAREST)
        assert ctx.fbo == other and tuple(ctx.viewport) == (0, 0, 100, 50)
        live.close()
    finally:
        ctx.release()
