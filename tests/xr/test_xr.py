"""The headset target (engine/xr) against Monado: a real OpenXR runtime with a simulated headset and
the null compositor (20 Hz, 320x240 per eye). Each test starts its own monado-service."""

from __future__ import annotations

import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CHILD = Path(__file__).with_name("xr_session_child.py")
GL_SRGB8_ALPHA8 = 0x8C43


class Child:
    """xr_session_child.py running against the test's Monado, its JSON lines collected as they come."""

    def __init__(self, monado, folder: Path, *args: str, display: str | None = None):
        self.folder = folder
        self.data = folder / "data"
        env = monado.client_env(TIDEWELL_DATA_DIR=str(self.data), PYTHONUNBUFFERED="1")
        env.pop("DISPLAY", None)
        if display:
            env["DISPLAY"] = display
        self.process = subprocess.Popen(
            [sys.executable, str(CHILD), "--out", str(folder / "out"), *args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.messages: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.process.stderr), daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("{"):
                self.messages.put(json.loads(line))

    def wait_for(self, key: str, timeout_s: float, where=lambda value: True) -> dict:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.messages.empty():
                    break
                continue
            if key in message and where(message[key]):
                return message[key]
        raise AssertionError(
            f"no {key!r} within {timeout_s} s; output:\n"
            + "\n".join(self.lines[-40:])
            + "\nstderr:\n"
            + "".join(self.stderr[-40:])
        )

    def finish(self, timeout_s: float) -> dict:
        result = self.wait_for("result", timeout_s)
        self.process.wait(timeout=30)
        return result

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def events(self, session_id: int) -> list[tuple[float, str, str]]:
        with sqlite3.connect(self.data / "tidewell.db") as db:
            return db.execute(
                "SELECT t_s, kind, detail FROM events WHERE session_id = ? ORDER BY rowid", (session_id,)
            ).fetchall()


@pytest.fixture
def child_factory(monado, tmp_path):
    children = []

    def start(*args: str, display: str | None = None) -> Child:
        child = Child(monado, tmp_path / f"run{len(children)}", *args, display=display)
        children.append(child)
        return child

    yield start
    for child in children:
        child.kill()


def _load(path: str) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def test_xr_info_names_the_runtime_system_views_and_blend_modes(monado):
    result = subprocess.run(
        [sys.executable, "-m", "tidewell.engine.cli", "xr", "info"],
        env=monado.client_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "runtime:     Monado" in out
    assert "system:      Monado: Simulated HMD" in out
    assert "view 0:    recommended 320x240" in out and "view 1:    recommended 320x240" in out
    assert "blend modes: OPAQUE (no AR: overlay scenes show on black)" in out
    assert "XR_KHR_opengl_enable" in out and "XR_MNDX_egl_enable" in out


def test_each_eye_is_drawn_into_its_swapchain_and_the_eyes_see_in_stereo(child_factory):
    child = child_factory("--program", "taster", "--minutes", "0.5", "--capture-at", "12", "--scene", "ember")
    captured = child.wait_for("captured", 60)
    result = child.finish(60)
    assert result["status"] == "completed" and result["lost"] is None
    assert result["color_format"] == GL_SRGB8_ALPHA8  # 8-bit sRGB preferred over Monado's first (RGBA16F)
    assert result["eye_size"] == [320, 240]
    # The ember draws at render scale 0.5: each layer view's image rect is that corner of its image.
    assert result["image_rects"] == [[160, 120], [160, 120]]
    left, right = _load(captured["files"]["left"]), _load(captured["files"]["right"])
    assert left.shape == right.shape == (120, 160, 3)
    # The ember: a warm glow in the dark, in both eyes.
    for eye in (left, right):
        assert eye.max() > 60, "the ember is visible"
        red, green, blue = (eye[..., k].mean() for k in range(3))
        assert red > green > blue
    # Two viewpoints of one world: the same picture, shifted sideways between the eyes.
    difference = np.abs(left - right).mean()
    correlation = np.corrcoef(left.mean(axis=2).ravel(), right.mean(axis=2).ravel())[0, 1]
    print(f"eyes differ by {difference:.2f} levels on average; correlation {correlation:.3f}")
    # Identical eyes differ by exactly 0; the parallax of the near glow moves only its edge, by 0.2-0.3
    # levels on average depending on how far the breath has swelled it at the capture (a clean clone's
    # run saw 0.1996). Which eye sees it further right is the stereo check proper (below).
    assert difference > 0.02, "the eyes must not be identical"
    assert correlation > 0.9, "the eyes must see the same scene"
    centre = [np.average(np.arange(eye.shape[1]), weights=eye.sum(axis=(0, 2))) for eye in (left, right)]
    assert centre[0] > centre[1], f"a near light sits further right in the left eye (centres {centre})"


def test_sixty_seconds_of_frames_at_the_runtime_pace_every_period_accounted_for(child_factory):
    """The runtime paces the frames: never more than its display periods, and every period either
    drawn or counted as skipped. How many are skipped, and whose lateness that was, depends on the
    machine: benchmarks/xr_frame.py measures it (llvmpipe draws on the CPU here)."""
    child = child_factory("--program", "taster", "--minutes", "1.05", "--scene", "ember")
    result = child.finish(300)
    print({k: v for k, v in result.items() if k != "missed_at"}, f"skipped after frames at {result['missed_at']}")
    assert result["status"] == "completed"
    assert result["session_s"] >= 60.0
    expected = result["session_s"] * 20.0  # the null compositor's 20 Hz
    # Paced frames cannot outnumber the display periods by more than the first frame; Monado's frame
    # pacer moves its predicted display times within a period as it re-estimates the app's timing, so on
    # a busy machine the display times of 1263 frames spanned 2 periods fewer than the frames (a clean
    # clone's run: 1263 frames in 63.05 s at 20 Hz). An unpaced loop would draw many times as many.
    assert result["frames"] <= 1.01 * expected + 2, "more frames than the runtime's display periods"
    assert abs(result["frames"] + result["missed"] - expected) <= 0.02 * expected + 2
    assert result["frames"] > 0 and result["missed_by_engine"] <= result["missed"]
    # Recentred at the start and at each posture change (prone -> supine -> seated in the taster).
    assert result["recenters"] == 3


def test_lifecycle_hidden_and_shown_again_pauses_and_resumes(child_factory, monado):
    child = child_factory("--program", "taster", "--minutes", "0.5", "--sound-when-off", "fade")
    child.wait_for("progress", 60, where=lambda p: p["state"] == "FOCUSED" and p["t_s"] >= 3)
    rival = monado.hide_session(4.0)  # another application takes the headset for 4 s
    hidden = child.wait_for("progress", 30, where=lambda p: p["paused"])
    shown = child.wait_for("progress", 30, where=lambda p: not p["paused"] and p["state"] == "FOCUSED")
    rival.wait(timeout=30)
    result = child.finish(90)
    assert result["status"] == "completed", child.lines[-20:]
    events = child.events(result["session_id"])
    kinds = [kind for _, kind, _ in events]
    states = [detail for _, kind, detail in events if kind == "xr_state"]
    print(states)
    assert states[:5] == ["IDLE", "READY", "SYNCHRONIZED", "VISIBLE", "FOCUSED"]
    # Hidden: FOCUSED -> VISIBLE -> SYNCHRONIZED; shown again: -> VISIBLE -> FOCUSED; at the end the
    # session leaves cleanly: STOPPING -> IDLE -> EXITING.
    assert states[5:9] == ["VISIBLE", "SYNCHRONIZED", "VISIBLE", "FOCUSED"]
    assert states[-3:] == ["STOPPING", "IDLE", "EXITING"]
    off = kinds.index("headset_off")
    on = kinds.index("headset_on")
    assert "pause" in kinds[off + 1 : off + 4] and "resume" in kinds[on + 1 : on + 4]
    assert kinds.count("headset_off") == 2  # the hide, and the end of the session (STOPPING)
    assert kinds.count("headset_on") == 1
    t_off, t_on = events[off][0], events[on][0]
    assert t_off < t_on
    assert hidden["t_s"] >= t_off - 0.1 and shown["t_s"] >= t_on - 0.1

    # The log keeps the fade the client saw and heard (engine/xr/presence.py), not the session's plan:
    # dark while hidden, the sound fading out ("--sound-when-off fade"), light ramping back once shown.
    from tidewell.engine.xr.presence import RAMP_S

    with sqlite3.connect(child.data / "tidewell.db") as db:
        samples = db.execute(
            "SELECT t_s, fade, sound_fade FROM samples WHERE session_id = ? ORDER BY t_s", (result["session_id"],)
        ).fetchall()
    hidden_rows = [row for row in samples if t_off < row[0] < t_on]
    assert hidden_rows and all(light == 0.0 for _, light, _ in hidden_rows), hidden_rows
    assert max(sound for _, _, sound in hidden_rows) > 0.0, "the sound fades out, it is not cut"
    assert all(sound == 0.0 for t, _, sound in hidden_rows if t >= t_off + RAMP_S + 0.1), hidden_rows
    back = [row for row in samples if t_on < row[0] < t_on + RAMP_S]
    # (the ramp's first step is taken in the frame the headset came back: a frame period or two of margin)
    assert back and all(light <= (t - t_on + 0.25) / RAMP_S for t, light, _ in back), back
    assert any(light > 0.0 for _, light, _ in back), "shown again: the light comes back"


def test_the_runtime_going_away_mid_session_keeps_every_record(child_factory, monado):
    child = child_factory("--program", "taster", "--minutes", "3")
    child.wait_for("progress", 60, where=lambda p: p["state"] == "FOCUSED" and p["t_s"] >= 5)
    monado.stop()  # SIGKILL: the runtime vanishes mid-frame
    lost_line = None
    deadline = time.monotonic() + 20
    while lost_line is None and time.monotonic() < deadline:
        lost_line = next((line for line in child.lines if "xr lost:" in line), None)
        time.sleep(0.1)
    assert lost_line is not None, child.lines[-20:]
    assert "the OpenXR runtime went away" in lost_line and "every record so far is kept" in lost_line
    # The session goes on with sound: time still passes and is logged.
    before = child.wait_for("progress", 20)["t_s"]
    later = child.wait_for("progress", 20, where=lambda p: p["t_s"] >= before + 3)
    assert later["frames"] == child.wait_for("progress", 20)["frames"]  # no frames without a runtime
    child.process.send_signal(signal.SIGINT)
    result = child.finish(60)
    assert result["status"] == "interrupted" and result["lost"]
    assert child.process.returncode == 130
    events = child.events(result["session_id"])
    lost = [t for t, kind, _ in events if kind == "xr_lost"]
    assert len(lost) == 1
    with sqlite3.connect(child.data / "tidewell.db") as db:
        (status,) = db.execute("SELECT status FROM sessions WHERE id = ?", (result["session_id"],)).fetchone()
        (last_sample,) = db.execute(
            "SELECT MAX(t_s) FROM samples WHERE session_id = ?", (result["session_id"],)
        ).fetchone()
        beats, last_beat = db.execute(
            "SELECT COUNT(*), MAX(t_s) FROM beats WHERE session_id = ?", (result["session_id"],)
        ).fetchone()
    assert status == "interrupted"
    assert last_sample >= lost[0] + 3.0, "frame states were logged after the loss"
    assert last_beat >= lost[0] + 2.0 and beats >= result["session_s"] * 0.8  # ~1 beat a second or more


def test_a_lost_session_state_is_handled_like_a_vanished_runtime(monado, tmp_path):
    """LOSS_PENDING cannot be provoked in Monado; the state change is handed to a live target."""
    script = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
import xr
from tidewell.engine.xr.target import XrTarget
target = XrTarget()
for _ in range(20):
    if target.wait_frame():
        target.render_nothing()
target._on_state(xr.SessionState.LOSS_PENDING)
print(json.dumps({{"lost": target.lost, "events": target.drain_events(), "next": target.wait_frame()}}))
target.close()
"""
    result = subprocess.run(
        [sys.executable, "-c", script], env=monado.client_env(), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert "LOSS_PENDING" in report["lost"]
    assert ["xr_lost", report["lost"]] in report["events"]
    assert report["next"] is False  # no more frames are waited for


def test_desktop_mirror_shows_the_left_eye_and_takes_the_session_keys(child_factory, xvfb):
    child = child_factory(
        "--program",
        "taster",
        "--minutes",
        "0.4",
        "--mirror",
        "--capture-at",
        "9",
        "--scene",
        "dusk_ocean",
        display=xvfb,
    )
    captured = child.wait_for("captured", 60)
    mirror = _load(captured["files"]["mirror"])
    left = _load(captured["files"]["left"])
    assert mirror.shape == (540, 960, 3)
    # The 4:3 eye letterboxed into the 16:9 window: dark bars at the sides, the eye's picture between.
    assert mirror[:, :100].max() < 5 and mirror[:, -100:].max() < 5
    picture = mirror[:, 120:-120]
    small = np.asarray(
        Image.fromarray(picture.astype(np.uint8)).resize((left.shape[1], left.shape[0])), dtype=np.float64
    )
    assert np.abs(small - left).mean() < 12, "the mirror shows the left eye"
    window = subprocess.run(
        ["xdotool", "search", "--name", "headset mirror"], env={"DISPLAY": xvfb}, capture_output=True, text=True
    ).stdout.split()
    assert window, "the mirror window is on the display"
    subprocess.run(["xdotool", "key", "--window", window[0], "p"], env={"DISPLAY": xvfb}, check=True)
    child.wait_for("progress", 20, where=lambda p: p["paused"])
    subprocess.run(["xdotool", "key", "--window", window[0], "p"], env={"DISPLAY": xvfb}, check=True)
    child.wait_for("progress", 20, where=lambda p: not p["paused"])
    subprocess.run(["xdotool", "key", "--window", window[0], "Escape"], env={"DISPLAY": xvfb}, check=True)
    result = child.finish(90)
    assert result["mirror_frames"] > 20
    kinds = [kind for _, kind, _ in child.events(result["session_id"])]
    assert "pause" in kinds and "resume" in kinds and "gentle_end" in kinds
    assert result["status"] == "ended_early"
