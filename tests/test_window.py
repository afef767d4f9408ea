"""The desktop window under a private Xvfb: what reaches the window, keys, and a windowed session.

Each check runs in a fresh process, as the app does: the window's GL context is the first one
the process makes (an EGL context made earlier in the same process can spoil the window's
default framebuffer; see WindowTarget.snapshot).
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PIL import Image

from tidewell.sessions.runner import GENTLE_END_S

WINDOW_CHECK = textwrap.dedent("""
    import json
    import numpy as np
    from tidewell.core.frame_state import BreathStage, FrameState, Posture
    from tidewell.engine.render.targets import WindowTarget, open_target
    from pyglet.window import key

    state = FrameState(t_s=5.0, phase_index=0, phase_name="x", phase_elapsed_s=1.0, phase_progress=0.5,
                       breath_phase=0.3, breath_stage=BreathStage.INHALE, breath_level=0.7, pace_bpm=6.0,
                       calm=0.5, posture=Posture.SEATED, scene="dusk_ocean", previous_scene=None,
                       crossfade=1.0, fade=1.0)
    window, message = open_target(prefer_window=True, size=(160, 120))
    pressed = []
    window.on_key = pressed.append
    window.render(state)
    drawn = window.read_rgb()
    window.ctx.copy_framebuffer(window.ctx.screen, window._frame)  # again, to read the back buffer
    error = window.ctx.error
    width, height = window.ctx.screen.viewport[2:]
    shown = np.frombuffer(window.ctx.screen.read(components=3, alignment=1), np.uint8)
    sheet = window.snapshot(state, (80, 60))
    for symbol in (key.SPACE, key.P, key.A, key.M, key.ESCAPE):
        window._window.dispatch_event("on_key_press", symbol, 0)
    window.dispatch_events()
    result = dict(kind=type(window).__name__, message=message, error=error, size=[width, height],
                  drawn=float(drawn.mean()), shown=float(shown.mean()) if shown.size else -1.0,
                  snapshot=list(sheet.shape), snapshot_mean=float(sheet.mean()), pressed=pressed,
                  closed_before=window.closed)
    window.close()
    result["closed_after"] = window.closed
    print(json.dumps(result))
""")


def test_window_shows_the_frame_and_maps_keys(xvfb_display):
    result = subprocess.run([sys.executable, "-c", WINDOW_CHECK], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout.strip().splitlines()[-1])
    assert r["kind"] == "WindowTarget" and r["message"].startswith(f"window 160x120 on {xvfb_display}")
    assert r["error"] == "GL_NO_ERROR" and r["size"] == [160, 120]
    assert r["drawn"] > 5 and abs(r["shown"] - r["drawn"]) < 1.0  # the window holds what was drawn
    assert r["snapshot"] == [60, 80, 3] and r["snapshot_mean"] > 5
    assert r["pressed"] == ["next", "pause", "marker", "end"]
    assert not r["closed_before"] and r["closed_after"]


def _send_key(display: str, name: str) -> None:
    env = {**os.environ, "DISPLAY": display}
    ids = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "Tidewell"], env=env, capture_output=True, text=True
    ).stdout.split()
    assert ids, "the Tidewell window is not on the display"
    subprocess.run(["xdotool", "key", "--window", ids[-1], name], env=env, check=True)


def _start_windowed_run(tidewell_cmd: list[str], env: dict) -> tuple[subprocess.Popen, list[str]]:
    """`tidewell run --minutes 3` with a window, once its first phase has begun; the lines read so far."""
    proc = subprocess.Popen(
        [*tidewell_cmd, "run", "--minutes", "3"], env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    lines = []
    deadline = time.monotonic() + 60
    while not any("phase 1/" in line for line in lines) and time.monotonic() < deadline:
        lines.append(proc.stdout.readline())
    return proc, lines


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed (bash .ci/install --dev)")
def test_windowed_session_space_advances_and_escape_ends_gently(xvfb_display, tidewell_cmd, cli_env, wait_for_logged):
    cli_env["DISPLAY"] = xvfb_display
    proc, lines = _start_windowed_run(tidewell_cmd, cli_env)
    # 8 s of session logged (4 Hz samples): past the middle of the settle phase, its contact frame is taken.
    wait_for_logged(Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db", samples=32)
    _send_key(xvfb_display, "space")
    time.sleep(2)
    _send_key(xvfb_display, "Escape")
    out, err = proc.communicate(timeout=60)
    out = "".join(lines) + out
    assert proc.returncode == 0, err
    assert out.startswith("window 1280x720 on") and "phase 2/7" in out and "gentle end" in out
    assert "session 1 ended early" in out
    db = Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db"
    with sqlite3.connect(db) as conn:
        status, folder, virtual = conn.execute("SELECT status, folder, virtual_time FROM sessions").fetchone()
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY t_s, rowid")]
        gentle_end = conn.execute("SELECT t_s FROM events WHERE kind = 'gentle_end'").fetchone()[0]
        ended = conn.execute("SELECT MAX(t_s) FROM samples").fetchone()[0]
    assert status == "ended_early" and virtual == 0
    assert kinds.index("therapist_next") < kinds.index("gentle_end") and kinds[-1] == "program_end"
    assert ended - gentle_end == pytest.approx(GENTLE_END_S, abs=0.5)  # the session's own clock: the whole fade
    sheet = Image.open(Path(folder) / "contact_sheet.png")
    assert sheet.width >= 480


@pytest.mark.skipif(shutil.which("xdotool") is None, reason="xdotool is not installed (bash .ci/install --dev)")
def test_a_foot_pedal_key_map_drives_the_window(xvfb_display, tidewell_cmd, cli_env, tmp_path):
    """keys.toml gives Page Down, F5 and Q (what pedals commonly send) to next, marker and end."""
    keys = tmp_path / "keys.toml"
    keys.write_text('next = ["PAGEDOWN"]\nmarker = ["F5"]\nend = ["Q"]\n')
    cli_env["TIDEWELL_KEYS"] = str(keys)
    cli_env["DISPLAY"] = xvfb_display
    proc, _ = _start_windowed_run(tidewell_cmd, cli_env)
    time.sleep(2)
    for name in ("space", "Next", "F5", "q"):  # space is no longer "next": only Page Down is
        _send_key(xvfb_display, name)
        time.sleep(1)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    with sqlite3.connect(Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db") as conn:
        kinds = [k for (k,) in conn.execute("SELECT kind FROM events ORDER BY t_s, rowid")]
    assert kinds.count("therapist_next") == 1 and kinds.count("marker") == 1 and kinds.count("gentle_end") == 1
    assert kinds.index("therapist_next") < kinds.index("marker") < kinds.index("gentle_end")


WINDOW_LIVE_VIEW = textwrap.dedent("""
    import io, json, time
    import numpy as np
    from PIL import Image
    from tidewell.engine.console.live_preview import SessionLiveView
    from tidewell.engine.render.scene_states import scene_state
    from tidewell.engine.render.targets import open_target

    images = []
    window, message = open_target(prefer_window=True, size=(640, 360))
    live = SessionLiveView(images.append, "auto", headless=False)
    live.attach_window(window)  # as RunOptions.on_window does for a console session
    window.live_view.period_s = 0.0
    state = scene_state("dusk_ocean")
    deadline = time.monotonic() + 30
    while len(images) < 2 and time.monotonic() < deadline:
        window.render(state)
        time.sleep(0.05)
    drawn = window.read_rgb()
    window.close()
    problems = live.close()
    picture = np.asarray(Image.open(io.BytesIO(images[-1])).convert("RGB")) if images else np.zeros((1, 1, 3))
    small = np.asarray(Image.fromarray(drawn).resize(picture.shape[1::-1], Image.BILINEAR))
    print(json.dumps(dict(kind=type(window).__name__, images=len(images), size=list(picture.shape[1::-1]),
                          difference=float(np.abs(picture.astype(float) - small).mean()), problems=problems)))
""")


def test_a_session_window_feeds_the_console_live_view(xvfb_display):
    result = subprocess.run([sys.executable, "-c", WINDOW_LIVE_VIEW], capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr
    r = json.loads(result.stdout.strip().splitlines()[-1])
    assert r["kind"] == "WindowTarget" and r["problems"] == []
    assert r["images"] >= 2 and r["size"] == [480, 270]
    assert r["difference"] < 8, "the live view shows what the window drew"
