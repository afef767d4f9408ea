"""Hostile and careless input through the real `tidewell` command: numbers without bounds, control
characters bound for the terminal, pseudonyms, --sensor, signals, closed pipes and exit codes."""

import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tidewell.core.terminal import printable
from tidewell.engine.session import RunOptions, run_session
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.pseudonyms import PseudonymError
from tidewell.sessions.store import SessionStore

# What must never reach a terminal: C0 but tab and newline, DEL, C1, and the bidi controls.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
HOSTILE = "\x1b[2J\x1b]0;pwned\x07"  # clear the screen, retitle the window
SNEAKY = "\u202edrow\u202c \x9b31m\x1bc\x1b[8m"  # a right-to-left override, C1 CSI, a terminal reset, hidden text

PROGRAM = """[program]
title = "Quiet title"
description = "x"

[[phase]]
name = "settle"
kind = "settle"
minutes = 0.5
scene = "ember"
posture = "prone"
breathing = { rate_bpm = 8, ratio = 0.7 }

[[phase]]
name = "release"
kind = "release"
minutes = 0.5
scene = "ember"
posture = "supine"
breathing = { rate_bpm = 6, ratio = 0.7 }
"""


def tidewell(cmd, env, *args, timeout=300):
    return subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=timeout)


def db_rows(env, sql, *params):
    path = Path(env["TIDEWELL_DATA_DIR"]) / "tidewell.db"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def assert_clean(text):
    found = CONTROL.findall(text)
    assert not found, f"control characters reached the terminal: {found!r} in {text!r}"


def test_printable_removes_escape_sequences_control_characters_and_bidi_overrides():
    assert printable(HOSTILE + "settle") == "settle"
    assert printable("a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b") == "alinkb"  # OSC 8 hyperlink
    assert printable("tab\tand\nnewline stay; \r\x00\x7f go") == "tab\tand\nnewline stay;  go"
    assert printable(SNEAKY) == "drow 31m"
    assert printable("Ünïcode 日本 ok") == "Ünïcode 日本 ok"
    assert_clean(printable("".join(map(chr, range(0x00, 0xA0))) + "\u202a\u2066\u200f"))


def test_control_characters_in_names_markers_pseudonyms_and_notes_never_reach_the_terminal(
    tidewell_cmd, cli_env, tmp_path
):
    program = tmp_path / "mine.toml"
    program.write_text(PROGRAM)
    outputs = []
    run = tidewell(tidewell_cmd, cli_env, "run", str(program), "--virtual-time", "--client", "C-1", "--note", "stiff")
    assert run.returncode == 0, run.stderr
    # What the log holds is printed as it was written, less its control characters: text from an older version
    # of the log that predates the checks at every door, or a log written by hand.
    db = Path(cli_env["TIDEWELL_DATA_DIR"]) / "tidewell.db"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO events (session_id, t_s, kind, detail, phase_idx) VALUES (1, 10, 'marker', ?, 0)",
            ("left trapezius " + HOSTILE + SNEAKY,),
        )
        conn.execute("INSERT INTO clients (pseudonym, created_at) VALUES (?, '2026-01-01')", ("old" + HOSTILE,))
        conn.execute(
            "UPDATE sessions SET client = ?, program_title = ? WHERE id = 1",
            ("old" + HOSTILE, "Hostile " + SNEAKY + "title"),
        )
        conn.execute("UPDATE phases SET name = ? WHERE session_id = 1 AND idx = 0", (HOSTILE + "settle",))
        conn.execute("UPDATE self_reports SET note = ? WHERE session_id = 1", ("stiff " + HOSTILE + SNEAKY,))
    for args in (["sessions", "show", "1"], ["sessions", "list"], ["clients"], ["report", "1"]):
        result = tidewell(tidewell_cmd, cli_env, *args)
        assert result.returncode == 0, (args, result.stderr)
        outputs.append(result)
    shown = outputs[0].stdout
    assert "left trapezius" in shown and "settle" in shown
    for result in outputs:
        assert_clean(result.stdout + result.stderr)


def test_the_log_itself_refuses_a_note_outside_the_rules(tmp_path):
    """The last door: whatever calls the store (the console, the command line, a script)."""
    store = SessionStore(tmp_path / "tidewell.db")
    run_session(
        load_program(resolve_program("taster")).scaled_to(0.1),
        RunOptions(client="C-1", virtual_time=True, headless=True, say=lambda _: None),
        store,
    )
    for note, rule in (("a\x1b[2Jb", "no control characters"), ("x" * 2001, "at most 2000 characters")):
        with pytest.raises(ValueError, match=rule):
            store.set_self_report(1, "after", 2, None, note)
    assert store.self_reports(1) == {}
    store.set_self_report(1, "after", 2, None, "tab\tand\nnewline are text")
    assert store.self_reports(1)["after"]["note"] == "tab\tand\nnewline are text"


def test_a_program_file_with_control_characters_is_refused_with_its_line(tidewell_cmd, cli_env, tmp_path):
    program = tmp_path / "hostile.toml"
    program.write_text(PROGRAM.replace('name = "settle"', 'name = "\\u001b[2J\\u001b]0;pwned\\u0007settle"'))
    for args in (
        ["run", str(program), "--virtual-time"],
        ["programs", "validate", str(program)],
        ["programs", "show", str(program)],
    ):
        result = tidewell(tidewell_cmd, cli_env, *args, timeout=60)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr
        assert f"{program}:6: phase 1" in result.stderr, result.stderr
        assert "key 'name': expected text without control characters" in result.stderr, result.stderr
        assert_clean(result.stderr)
    titled = tmp_path / "titled.toml"
    titled.write_text(PROGRAM.replace('title = "Quiet title"', 'title = "Quiet \\u202etitle"'))
    result = tidewell(tidewell_cmd, cli_env, "programs", "validate", str(titled), timeout=60)
    assert (
        result.returncode in (1, 2)
        and f"{titled}:2: [program] key 'title': expected text without control" in result.stderr
    ), result.stderr
    assert db_rows(cli_env, "SELECT COUNT(*) FROM sessions") in ([], [(0,)])


@pytest.mark.parametrize("note", ["a\x1bb", "a\u202eb", "a\x9bb", "a\x7fb"])
def test_a_note_with_control_characters_is_refused_in_one_line(tidewell_cmd, cli_env, note):
    run = tidewell(tidewell_cmd, cli_env, "run", "--virtual-time", "--minutes", "0.1", "--client", "C-1")
    assert run.returncode == 0, run.stderr
    for args in (["rate", "1", "after", "--note", note], ["run", "--virtual-time", "--note", note]):
        result = tidewell(tidewell_cmd, cli_env, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        lines = [line for line in result.stderr.splitlines() if line.startswith("tidewell")]
        assert lines and "argument --note: expected a note without control characters" in lines[-1], result.stderr
        assert_clean(result.stderr)
    assert db_rows(cli_env, "SELECT COUNT(*) FROM self_reports WHERE moment = 'after'") == [(0,)]
    assert db_rows(cli_env, "SELECT COUNT(*) FROM sessions") == [(1,)]


def test_argument_errors_are_printed_without_control_characters(tidewell_cmd, cli_env):
    result = tidewell(tidewell_cmd, cli_env, "run", "--minutes", "5" + HOSTILE)
    assert result.returncode == 2 and "argument --minutes" in result.stderr
    assert_clean(result.stderr)


@pytest.mark.parametrize("client", ["", "   ", "<script>alert(1)</script>", "C-1" + HOSTILE, "x" * 41, "a\u202eb"])
def test_run_and_report_refuse_a_pseudonym_outside_the_rule(tidewell_cmd, cli_env, client):
    for args in (["run", "--virtual-time", "--client", client], ["report", "--client", client]):
        result = tidewell(tidewell_cmd, cli_env, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert "argument --client: a pseudonym is 1-40 letters, digits, spaces" in result.stderr
        assert_clean(result.stderr)
    assert db_rows(cli_env, "SELECT COUNT(*) FROM sessions") in ([], [(0,)])


def test_every_door_into_the_client_list_applies_the_pseudonym_rule(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    for bad in ("", "<b>", None, "a\x1b[2Jb"):
        with pytest.raises(PseudonymError, match="a pseudonym is 1-40"):
            store.ensure_client(bad)
    with pytest.raises(PseudonymError):
        run_session(
            load_program(resolve_program("taster")).scaled_to(0.1),
            RunOptions(client="<script>", virtual_time=True, headless=True, say=lambda _: None),
            store,
        )
    assert store.clients() == [] and store.sessions(10) == []
    assert store.ensure_client(" C-017 ")["pseudonym"] == "C-017"


@pytest.mark.parametrize(
    "args,expected",
    [
        (["run", "--minutes", "abc"], "argument --minutes: expected a number of minutes from 0.05 to 240"),
        (["run", "--minutes", "inf"], "argument --minutes: expected a number of minutes from 0.05 to 240"),
        (["run", "--minutes", "1e309"], "argument --minutes: expected a number of minutes from 0.05 to 240"),
        (["run", "--minutes", "1e300"], "argument --minutes: expected a number of minutes from 0.05 to 240"),
        (["run", "--minutes", "nan"], "argument --minutes: expected a number of minutes from 0.05 to 240"),
        (["run", "--minutes", "0"], "argument --minutes: expected a number of minutes from 0.05 to 240"),
        (["run", "--minutes", "241"], "(a program lasts at most 4 h), got '241'"),
        (["audio", "render", "taster", "--out", "x.wav", "--minutes", "nan"], "argument --minutes: expected"),
        (["run", "--seed", "1" + "0" * 30], "argument --seed: expected a whole number from 0 to 4294967295"),
        (["run", "--seed", "-1"], "argument --seed: expected a whole number from 0 to 4294967295"),
        (["run", "--seed", "1.5"], "argument --seed: expected a whole number"),
        (["run", "--pain", "11"], "argument --pain: expected a whole number from 0 to 10"),
        (["run", "--note", "x" * 2001], "argument --note: expected a note of at most 2000 characters"),
        (["sessions", "show", "99999999999999999999"], "argument session_id: expected a session id"),
        (["sessions", "show", "0"], "argument session_id: expected a session id"),
        (["report", "99999999999999999999"], "argument session_id: expected a session id"),
        (["rate", "99999999999999999999", "after", "--pain", "1"], "argument session_id: expected a session id"),
        (["sessions", "list", "--limit", "abc"], "argument --limit: expected a whole number from 1"),
        (["sensors", "scan", "--seconds", "inf"], "argument --seconds: expected seconds from 0.5 to 300"),
        (["sensors", "watch", "--seconds", "nan"], "argument --seconds: expected seconds from 0.5 to 86400"),
        (["audio", "render", "taster", "--out", "x.wav", "--rate", "1e12"], "argument --rate: expected a sample rate"),
        (["console", "--port", "99999"], "argument --port: expected a TCP port 0-65535"),
        (["run", "--sensor", "replay:99999999999999999999999"], "argument --sensor: --sensor replay: no session"),
    ],
)
def test_numbers_on_the_command_line_are_bounded_with_readable_messages(tidewell_cmd, cli_env, args, expected):
    result = tidewell(tidewell_cmd, cli_env, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "invalid" not in result.stderr, result.stderr
    assert expected in result.stderr, result.stderr
    assert db_rows(cli_env, "SELECT COUNT(*) FROM sessions") in ([], [(0,)])


@pytest.mark.parametrize("minutes", ["inf", "nan", "1e300", "-inf"])
def test_a_program_file_with_endless_minutes_is_refused_with_its_line(tidewell_cmd, cli_env, tmp_path, minutes):
    program = tmp_path / "mine.toml"
    program.write_text(PROGRAM.replace("minutes = 0.5", f"minutes = {minutes}", 1))
    for args in (["run", str(program), "--virtual-time"], ["programs", "validate", str(program)]):
        result = tidewell(tidewell_cmd, cli_env, *args, timeout=60)
        assert result.returncode in (1, 2) and "Traceback" not in result.stderr, result.stderr
        assert (
            f"{program}:8: phase 1" in result.stderr and "key 'minutes': expected a number of minutes" in result.stderr
        )
    assert db_rows(cli_env, "SELECT COUNT(*) FROM sessions") in ([], [(0,)])
    assert not list(Path(cli_env["TIDEWELL_DATA_DIR"]).glob("sessions/*/breath.wav"))


def test_the_old_two_word_sensor_form_is_refused_before_anything_is_logged(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    with pytest.raises(TypeError, match="a sensor is one string"):
        run_session(
            load_program(resolve_program("taster")).scaled_to(0.1),
            RunOptions(client="C-1", sensor=("replay", "rr.csv"), virtual_time=True, headless=True, say=lambda _: None),
            store,
        )
    assert store.sessions(10) == []


def test_sensor_is_one_value_and_never_swallows_the_program(tidewell_cmd, cli_env):
    result = tidewell(
        tidewell_cmd, cli_env, "run", "--sensor", "sim", "back_neck_30", "--minutes", "0.2", "--virtual-time"
    )
    assert result.returncode == 0, result.stderr
    assert db_rows(cli_env, "SELECT program_id, sensor FROM sessions") == [("back_neck_30", "sim")]
    replay = tidewell(
        tidewell_cmd, cli_env, "run", "--sensor", "replay:1", "taster", "--minutes", "0.2", "--virtual-time"
    )
    assert replay.returncode == 0, replay.stderr
    assert db_rows(cli_env, "SELECT program_id, sensor FROM sessions WHERE id = 2") == [("taster", "replay:1")]
    console = tidewell(tidewell_cmd, cli_env, "console", "--sensor", "replay:1", "--port", "0")
    assert console.returncode == 2 and "the console runs live sessions" in console.stderr


def test_sigterm_is_named_and_the_session_kept_as_interrupted(tidewell_cmd, cli_env):
    proc = subprocess.Popen(
        [*tidewell_cmd, "run", "--real-time", "--headless", "--client", "C-1"],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    line = ""
    while "phase 1/" not in line and time.monotonic() < deadline:
        line = proc.stdout.readline()
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "stopped (SIGTERM): the session is kept and marked interrupted" in out and "Ctrl-C" not in out
    assert "Traceback" not in err
    assert db_rows(cli_env, "SELECT status FROM sessions") == [("interrupted",)]


def test_a_reader_that_goes_away_stops_the_printing_not_the_session(tidewell_cmd, cli_env):
    command = " ".join(f"'{part}'" for part in tidewell_cmd)
    # `| head -n 1` leaves after the first line; every later line meets a closed pipe
    piped = subprocess.run(
        [
            "bash",
            "-c",
            f"{command} run --real-time --headless --minutes 0.2 | head -n 1; "
            'echo "tidewell exit status: ${PIPESTATUS[0]}" >&2',
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert len(piped.stdout.splitlines()) == 1
    assert "tidewell exit status: 0" in piped.stderr, piped.stderr
    assert "Broken pipe" not in piped.stderr and "Traceback" not in piped.stderr, piped.stderr
    assert db_rows(cli_env, "SELECT status FROM sessions") == [("completed",)]
    assert db_rows(cli_env, "SELECT COUNT(*) FROM beats")[0][0] > 5
    assert db_rows(cli_env, "SELECT COUNT(*) FROM events WHERE kind = 'phase_end'")[0][0] == 7


def test_sensors_decode_exits_non_zero_when_a_packet_is_invalid(tidewell_cmd, cli_env):
    valid = tidewell(tidewell_cmd, cli_env, "sensors", "decode", "16480004", "0648")
    assert valid.returncode == 0 and valid.stdout.count('"valid": true') == 2
    for packets, said in (
        (["zz", "16"], "2 of 2 packets are not valid Heart Rate Measurements"),
        (["16480004", "1648"], "1 of 2 packets is not a valid Heart Rate Measurement"),
        (["1648"], "1 of 1 packet is not a valid Heart Rate Measurement"),
    ):
        result = tidewell(tidewell_cmd, cli_env, "sensors", "decode", *packets)
        assert result.returncode == 1, result.stdout
        assert len(result.stdout.splitlines()) == len(packets)  # every packet still gets its line
        assert said in result.stderr, result.stderr


def test_without_a_bluetooth_stack_scan_watch_run_and_console_say_why_and_exit_2(tidewell_cmd, cli_env, tmp_path):
    cli_env["DBUS_SYSTEM_BUS_ADDRESS"] = f"unix:path={tmp_path / 'no-bus'}"
    reasons = set()
    for args in (
        ["sensors", "scan", "--seconds", "1"],
        ["sensors", "watch", "--seconds", "1"],
        ["run", "--sensor", "ble", "--headless", "--minutes", "0.1"],
        ["console", "--sensor", "ble", "--port", "0", "--headless"],
    ):
        result = tidewell(tidewell_cmd, cli_env, *args, timeout=60)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        (line,) = result.stderr.strip().splitlines()
        reasons.add(line)
    assert reasons == {
        "tidewell: Bluetooth unavailable: cannot reach BlueZ on the system D-Bus (No such file or "
        "directory); is bluetoothd running and an adapter present?"
    }
    assert db_rows(cli_env, "SELECT COUNT(*) FROM sessions") in ([], [(0,)])
