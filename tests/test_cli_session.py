"""Whole sessions through the `tidewell` command, with real SQLite, offscreen GL and WAV files."""

import signal
import sqlite3
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tidewell.sessions.program import load_program, resolve_program


def run(cmd, env, *args, timeout=300):
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=timeout)


def session_rows(env):
    db = Path(env["TIDEWELL_DATA_DIR"]) / "tidewell.db"
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM sessions ORDER BY id").fetchall(), conn


def wav_seconds(path: Path) -> tuple[float, np.ndarray]:
    with wave.open(str(path)) as w:
        frames = w.readframes(w.getnframes())
        data = np.frombuffer(frames, dtype="<i2").reshape(-1, w.getnchannels())
        return w.getnframes() / w.getframerate(), data


def test_default_run_plays_the_taster_and_writes_sheet_wav_log_and_summary(tidewell_cmd, cli_env):
    result = run(tidewell_cmd, cli_env, "run")
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    taster = load_program(resolve_program("taster"))
    assert "virtual time" in out and "rendering offscreen" in out
    assert f"phase {len(taster.phases)}/{len(taster.phases)}" in out
    assert "completed" in out and "RMSSD" in out
    for phase in taster.phases:
        assert phase.name in out

    sessions, conn = session_rows(cli_env)
    (session,) = sessions
    assert session["status"] == "completed" and session["virtual_time"] == 1
    folder = Path(session["folder"])
    assert conn.execute("SELECT COUNT(*) FROM phases WHERE session_id=?", (session["id"],)).fetchone()[0] == 7
    assert conn.execute("SELECT COUNT(*) FROM beats").fetchone()[0] > 150

    seconds, samples = wav_seconds(folder / "breath.wav")
    assert seconds == pytest.approx(taster.minutes * 60 + 5, abs=6)  # program + the closing fade
    assert 0 < np.abs(samples).max() < 32767 * 0.6  # audible, soft, never clipping
    assert np.abs(samples[-240:]).max() < 50  # ends in silence after the fade

    sheet = Image.open(folder / "contact_sheet.png")
    assert sheet.width >= 4 * 400 and sheet.height >= 2 * 200
    pixels = np.asarray(sheet.convert("RGB"), dtype=float)
    assert pixels.mean() > 5  # scenes are there, not black tiles

    shown = run(tidewell_cmd, cli_env, "sessions", "show", str(session["id"]))
    assert shown.returncode == 0 and "settle" in shown.stdout and "phase_start" in shown.stdout
    listed = run(tidewell_cmd, cli_env, "sessions", "list")
    assert "completed" in listed.stdout and "taster" in listed.stdout


def test_ctrl_c_leaves_a_complete_session_marked_interrupted(tidewell_cmd, cli_env, wait_for_logged):
    proc = subprocess.Popen(
        [*tidewell_cmd, "run", "--real-time", "--headless", "--client", "C-1"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Ctrl-C once the log holds 4 s of the session (4 Hz samples), however long that took to come.
    seen = wait_for_logged(Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db", samples=16)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in out
    sessions, conn = session_rows(cli_env)
    (session,) = sessions
    assert session["status"] == "interrupted" and session["ended_at"]
    assert conn.execute("SELECT COUNT(*) FROM beats").fetchone()[0] >= 3  # the corrector's held beats are kept
    assert conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] >= seen["samples"]
    last_sample = conn.execute("SELECT MAX(t_s) FROM samples").fetchone()[0]
    seconds, _ = wav_seconds(Path(session["folder"]) / "breath.wav")
    print(f"logged {seen} before Ctrl-C; last sample at {last_sample:.2f} s, breath.wav {seconds:.2f} s")
    assert last_sample - 0.5 <= seconds <= last_sample + 1.0, "the sound file holds the session up to Ctrl-C"


def test_replay_with_bad_rows_reports_line_numbers_and_uses_good_rows(tidewell_cmd, cli_env, tmp_path):
    rows = ["t_s,rr_ms"]
    t = 0.0
    for _ in range(100):  # 90 s of beats, inside the 2-minute run
        t += 0.9
        rows.append(f"{t:.3f},900")
    rows[5] = "oops,900"
    rows[9] = f"{float(rows[9].split(',')[0]):.3f}"
    rows[20] = "1.0,850"  # time going backwards
    csv = tmp_path / "rr.csv"
    csv.write_text("\n".join(rows) + "\n")
    result = run(tidewell_cmd, cli_env, "run", "--sensor", f"replay:{csv}", "--virtual-time", "--minutes", "2")
    assert result.returncode == 0, result.stderr
    for line in (6, 10, 21):
        assert f"{csv}:{line}:" in result.stdout
    sessions, conn = session_rows(cli_env)
    assert conn.execute("SELECT COUNT(*) FROM beats").fetchone()[0] == 100 - 3
    assert "sensor lost" in result.stdout  # the file ended before the session did


def test_missing_egl_driver_falls_back_with_one_line(tidewell_cmd, cli_env, tmp_path):
    cli_env["__EGL_VENDOR_LIBRARY_FILENAMES"] = str(tmp_path / "no-such-vendor.json")
    result = run(tidewell_cmd, cli_env, "run", "--minutes", "0.5")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "EGL" in result.stdout
    sessions, _ = session_rows(cli_env)
    folder = Path(sessions[0]["folder"])
    assert (folder / "breath.wav").exists() and not (folder / "contact_sheet.png").exists()


def test_missing_portaudio_library_falls_back_to_wav(tidewell_cmd, cli_env, tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sounddevice.py").write_text('raise OSError("PortAudio library not found")\n')
    cli_env["PYTHONPATH"] = str(shim)
    result = run(tidewell_cmd, cli_env, "run", "--real-time", "--headless", "--minutes", "0.05")
    assert result.returncode == 0, result.stderr
    assert "PortAudio" in result.stdout and "breath.wav" in result.stdout


def test_generic_top_level_names_are_not_importable(tmp_path):
    code = (
        "import importlib.util as u, tidewell.engine, tidewell.audio, tidewell.sensors, tidewell.sessions, "
        "tidewell.scenes; print([n for n in ('engine', 'audio', 'sensors', 'sessions', 'scenes', 'tests', "
        "'benchmarks') if u.find_spec(n) is not None])"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    failed = subprocess.run([sys.executable, "-c", "import audio"], cwd=tmp_path, capture_output=True, text=True)
    assert failed.returncode != 0 and "No module named 'audio'" in failed.stderr


def test_programs_list_and_show(tidewell_cmd, cli_env):
    listed = run(tidewell_cmd, cli_env, "programs", "list")
    assert listed.returncode == 0
    for program_id in ("taster", "full_body_60", "back_neck_30", "gentle_post_surgical_45"):
        assert program_id in listed.stdout
    shown = run(tidewell_cmd, cli_env, "programs", "show", "full_body_60")
    assert shown.returncode == 0
    assert "turn over" in shown.stdout and "therapist advances" in shown.stdout and "supine" in shown.stdout


def test_bad_sensor_arguments_end_with_one_message_and_no_session(tidewell_cmd, cli_env, tmp_path):
    for args, words in (
        (["--sensor", f"replay:{tmp_path / 'none.csv'}"], "none.csv"),
        (["--sensor", "replay"], "needs a file"),
        (["--sensor", "replay", str(tmp_path / "rr.csv")], "replay:FILE.csv"),
        (["--sensor", "thermometer"], "unknown sensor"),
    ):
        result = run(tidewell_cmd, cli_env, "run", "--virtual-time", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert words in result.stderr and "tidewell" in result.stderr.splitlines()[-1], result.stderr
    assert not (Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db").exists() or not session_rows(cli_env)[0]
