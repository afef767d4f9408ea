"""The data folder: owner-only files, a read-only folder or mount, a damaged session log, a full disk.

Real `tidewell` commands in subprocesses against real SQLite files; other users, read-only mounts and
full disks are real too (a `nobody` reader, tmpfs mounts), so those tests need root and say so.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

import pytest
from frame_states import make_state

from tidewell.audio.output import WavOutput
from tidewell.core.private_files import ReadOnlyFile, write_private
from tidewell.engine.session import RunOptions, run_session
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.store import SessionStore

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(
    not ROOT, reason="needs root: another user's view (runuser nobody), read-only and full tmpfs mounts"
)
TIDEWELL = Path(sys.executable).with_name("tidewell")
CLIENT = "C-017"


def tidewell(data: Path, *args, umask: int | None = None, timeout: float = 120):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["TIDEWELL_DATA_DIR"] = str(data)
    command = [str(TIDEWELL)] if TIDEWELL.exists() else [sys.executable, "-m", "tidewell.engine.cli"]
    return subprocess.run(
        [*command, *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def digest(path: Path) -> str:
    if path.is_dir():
        return "folder:" + ",".join(sorted(p.name for p in path.iterdir()))
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def tmpfs(mount_point: Path, size: str):
    mount_point.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def remount_read_only(mount_point: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)


def fill(folder: Path, leave_bytes: int = 0) -> Path:
    """A filler file that takes the room on folder's disk, all but about leave_bytes."""
    filler = folder / "filler"
    st = os.statvfs(folder)
    with open(filler, "wb") as f:
        try:
            room = st.f_bavail * st.f_frsize - leave_bytes
            while room > 0:
                room -= f.write(b"\0" * min(room, 1 << 20))
                f.flush()
        except OSError:
            pass
    return filler


@pytest.fixture(scope="module")
def logged(tmp_path_factory) -> Path:
    """A data folder with one short session of CLIENT, rated, and an RR file beside it."""
    data = tmp_path_factory.mktemp("template") / "data"
    result = tidewell(data, "run", "--minutes", "0.5", "--client", CLIENT)
    assert result.returncode == 0, result.stderr + result.stdout
    assert tidewell(data, "rate", "1", "after", "--pain", "3").returncode == 0
    with sqlite3.connect(data / "tidewell.db") as conn:
        rows = conn.execute("SELECT t_s, rr_ms FROM beats ORDER BY t_s").fetchall()
    conn.close()
    (data.parent / "rr.csv").write_text("t_s,rr_ms\n" + "".join(f"{t},{rr}\n" for t, rr in rows))
    return data


@pytest.fixture
def data(logged, tmp_path) -> Path:
    copy = tmp_path / "data"
    shutil.copytree(logged, copy)
    shutil.copy(logged.parent / "rr.csv", tmp_path / "rr.csv")
    return copy


# -- 1. owner-only ---------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_everything_in_the_data_folder_is_owner_only_whatever_the_umask(tmp_path, umask):
    data = tmp_path / "new" / "data"
    assert tidewell(data, "run", "--minutes", "0.3", "--client", CLIENT, umask=umask).returncode == 0
    folder = data / "sessions" / "00001"
    report = tidewell(
        data,
        "report",
        "1",
        "--html",
        folder / "report.html",
        "--csv",
        folder / "s.csv",
        "--json",
        folder / "s.json",
        "--anonymize",
        umask=umask,
    )
    assert report.returncode == 0, report.stderr
    written = {p.relative_to(tmp_path).as_posix() for p in data.rglob("*")}
    assert {
        "new/data/tidewell.db",
        "new/data/anonymize.key",
        "new/data/sessions/00001/breath.wav",
        "new/data/sessions/00001/contact_sheet.png",
        "new/data/sessions/00001/report.html",
        "new/data/sessions/00001/s.csv",
        "new/data/sessions/00001/s_beats.csv",
        "new/data/sessions/00001/s.json",
    } <= written
    for path in [tmp_path / "new", data, *data.rglob("*")]:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), f"{path}: {mode(path):04o}"


def test_the_consoles_thumbnails_and_certificate_are_owner_only_whatever_the_umask(tmp_path):
    from tidewell.engine.console.certificate import console_certificate
    from tidewell.engine.console.thumbnails import scene_thumbnails

    previous = os.umask(0o022)
    try:
        thumbnails = scene_thumbnails(lambda line: None, cache=tmp_path / "data" / "thumbnails")
        console_certificate(["127.0.0.1", "localhost"], folder=tmp_path / "config" / "tidewell", say=lambda line: None)
    finally:
        os.umask(previous)
    cached = sorted((tmp_path / "data" / "thumbnails").iterdir())
    assert thumbnails and cached, "the thumbnails should have been drawn and cached"
    made = [
        tmp_path / "data",
        tmp_path / "data" / "thumbnails",
        *cached,
        tmp_path / "config",
        tmp_path / "config" / "tidewell",
        *(tmp_path / "config" / "tidewell").iterdir(),
    ]
    for path in made:
        assert mode(path) == (0o700 if path.is_dir() else 0o600), f"{path}: {mode(path):04o}"


def test_the_log_and_its_wal_and_shm_are_owner_only_while_a_session_writes(tmp_path):
    previous = os.umask(0o002)
    try:
        store = SessionStore(tmp_path / "data" / "tidewell.db")
        sid = store.begin(
            program_id="taster",
            program_title="t",
            program_minutes=3,
            client=CLIENT,
            sensor="sim",
            virtual_time=True,
            seed=0,
        )
        writer = store.writer(sid)
        writer.event(0.0, "marker", "left trapezius", 0)
        files = {p.name: mode(p) for p in (tmp_path / "data").iterdir()}
        writer.close("completed")
        store.close()
    finally:
        os.umask(previous)
    assert files == {
        "tidewell.db": 0o600,
        "tidewell.db-wal": 0o600,
        "tidewell.db-shm": 0o600,
        f".tidewell.db-spare.{os.getpid()}.{sid}": 0o600,
    }
    assert mode(tmp_path / "data") == 0o700 and not list((tmp_path / "data").glob(".tidewell.db-spare*"))


def test_a_second_session_leaves_the_first_ones_spare_room_and_clears_a_killed_ones(tmp_path):
    """`tidewell run` while the console runs a session: each holds its own room beside the log."""
    data = tmp_path / "data"
    store = SessionStore(data / "tidewell.db")
    sid = store.begin(
        program_id="taster",
        program_title="t",
        program_minutes=3,
        client=CLIENT,
        sensor="sim",
        virtual_time=True,
        seed=0,
    )
    writer = store.writer(sid)  # the console's session, running
    held = data / f".tidewell.db-spare.{os.getpid()}.{sid}"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed = data / f".tidewell.db-spare.{int(dead.stdout)}.7"  # a session whose process is gone
    killed.write_bytes(b"\0" * 1024)
    result = tidewell(data, "run", "--minutes", "0.1", "--client", CLIENT, "--virtual-time")
    assert result.returncode == 0, result.stderr
    assert held.exists() and held.stat().st_size > 0, "another process's session keeps its spare room"
    assert not killed.exists()
    writer.close("completed")
    store.close()
    assert not list(data.glob(".tidewell.db-spare*"))


@needs_root
def test_another_user_cannot_read_a_clients_files(tmp_path):
    # Under a folder anyone may enter (tmp_path itself is root's alone), so only Tidewell's modes stop them.
    base = Path(tempfile.mkdtemp(prefix="tidewell-other-user-"))
    try:
        base.chmod(0o755)
        data = base / "data"
        assert tidewell(data, "run", "--minutes", "0.3", "--client", CLIENT, umask=0o022).returncode == 0
        folder = data / "sessions" / "00001"
        assert tidewell(data, "report", "1", "--html", folder / "report.html", umask=0o022).returncode == 0
        control = base / "control.txt"
        control.write_text("anyone may read this")
        control.chmod(0o644)

        def as_nobody(*command):
            return subprocess.run(["runuser", "-u", "nobody", "--", *map(str, command)], capture_output=True, text=True)

        assert as_nobody("cat", control).stdout == "anyone may read this"  # the reader works where it may
        for private in (
            folder / "report.html",
            folder / "breath.wav",
            folder / "contact_sheet.png",
            data / "tidewell.db",
        ):
            denied = as_nobody("head", "-c", "1", private)
            assert denied.returncode != 0 and "Permission denied" in denied.stderr, private
        for listing in (data, folder):
            denied = as_nobody("ls", listing)
            assert denied.returncode != 0 and "Permission denied" in denied.stderr, listing
    finally:
        shutil.rmtree(base)


def test_a_file_that_exists_keeps_the_mode_its_owner_gave_it(tmp_path):
    shared = tmp_path / "shared.html"
    shared.write_text("old")
    shared.chmod(0o640)
    write_private(shared, "new")
    assert shared.read_text() == "new" and mode(shared) == 0o640
    locked = tmp_path / "locked.html"
    locked.write_text("keep me")
    locked.chmod(0o400)
    with pytest.raises(ReadOnlyFile, match="read-only"):
        write_private(locked, "new")
    assert locked.read_text() == "keep me" and mode(locked) == 0o400
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked.html", "shared.html"]  # no leftovers


def test_a_new_session_never_writes_into_an_earlier_sessions_folder(data):
    # The log was moved aside, so numbering starts again at 1: session 1's folder of the old log stays whole.
    old_folder = data / "sessions" / "00001"
    before = {p.name: digest(p) for p in old_folder.iterdir()}
    (data / "tidewell.db").rename(data / "old.db")
    result = tidewell(data, "run", "--minutes", "0.2")
    assert result.returncode == 0, result.stderr
    assert {p.name: digest(p) for p in old_folder.iterdir()} == before
    with sqlite3.connect(data / "tidewell.db") as conn:
        folder = Path(conn.execute("SELECT folder FROM sessions WHERE id = 1").fetchone()[0])
    assert folder == data / "sessions" / "00001.2" and (folder / "breath.wav").is_file()


# -- 2. read-only ----------------------------------------------------------------------------------
READ_COMMANDS = {
    "sessions list": (("sessions", "list"), "completed"),
    "sessions show": (("sessions", "show", "1"), "phase_start"),
    "clients": (("clients",), CLIENT),
    "report": (("report", "1"), "whole session"),
    "report --client": (("report", "--client", CLIENT), CLIENT),
    "hrv": (("hrv", "{tmp}/rr.csv"), "RMSSD"),
    "audio render replay": (
        ("audio", "render", "taster", "--minutes", "0.2", "--out", "{tmp}/r.wav", "--sensor", "replay:1"),
        "wrote",
    ),
}
WRITE_COMMANDS = {
    "run": ("run", "--minutes", "0.2"),
    "rate": ("rate", "1", "after", "--pain", "2"),
    "console": ("console", "--port", "0"),
}


def _args(args, tmp_path):
    return [a.format(tmp=tmp_path) for a in args]


def _one_line(result) -> str:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _check_read_only_folder(data: Path, tmp_path: Path, why: str):
    db = data / "tidewell.db"
    before = {p.name: (digest(p), mode(p)) for p in data.iterdir()}
    for name, (args, expected) in READ_COMMANDS.items():
        result = tidewell(data, *_args(args, tmp_path))
        assert result.returncode == 0 and expected in result.stdout, (name, result.stderr)
    html = tidewell(data, "report", "1", "--html", tmp_path / "elsewhere.html")
    assert html.returncode == 0 and "Contains client data" in (tmp_path / "elsewhere.html").read_text()
    inside = tidewell(data, "report", "1", "--html", data / "report.html")
    assert inside.returncode == 1 and "cannot write" in _one_line(inside)
    for name, args in WRITE_COMMANDS.items():
        result = tidewell(data, *args, timeout=60)
        line = _one_line(result)
        assert (
            result.returncode == 2
            and line.startswith("tidewell: the session log cannot be written")
            and why in line
            and str(data) in line
        ), (name, line)
    assert {p.name: (digest(p), mode(p)) for p in data.iterdir()} == before, "nothing written, no mode changed"
    return db


def test_a_read_only_log_and_folder_are_read_and_never_written_or_chmodded(data, tmp_path):
    db = data / "tidewell.db"
    db.chmod(0o400)
    data.chmod(0o500)
    try:
        _check_read_only_folder(data, tmp_path, f"{db} is read-only (mode 0400)")
        assert mode(db) == 0o400
    finally:
        data.chmod(0o700)


@needs_root
def test_a_read_only_mount_is_read_and_writing_commands_say_why(data, tmp_path):
    with tmpfs(tmp_path / "mnt", "64m") as mount:
        shutil.copytree(data, mount / "data")
        remount_read_only(mount)
        _check_read_only_folder(mount / "data", tmp_path, f"read-only file system (mounted read-only at {mount})")


# -- 3. damaged log --------------------------------------------------------------------------------
def _random_bytes(db: Path):
    db.write_bytes(random.Random(1).randbytes(db.stat().st_size))


def _damaged_pages(db: Path):
    """Random bytes over every page of the session's records (beats, samples, events, phases): the
    middle of the file. The sessions and clients tables stay whole."""
    with sqlite3.connect(db) as conn:
        pages = [
            row[0]
            for row in conn.execute("SELECT pageno FROM dbstat WHERE name IN ('beats', 'samples', 'events', 'phases')")
        ]
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    rng = random.Random(2)
    with open(db, "r+b") as f:
        for page in pages:
            f.seek((page - 1) * page_size)
            f.write(rng.randbytes(page_size))


def _truncated(db: Path):
    os.truncate(db, db.stat().st_size // 2 + 100)


def _directory(db: Path):
    db.unlink()
    db.mkdir()
    (db / "something").write_text("not a database")


DAMAGE = {
    "random bytes": _random_bytes,
    "damaged pages": _damaged_pages,
    "truncated": _truncated,
    "a folder": _directory,
}
# every `tidewell` command that opens the session log (engine/cli.py)
STORE_COMMANDS = {
    **{name: args for name, (args, _) in READ_COMMANDS.items() if name != "hrv"},
    "report --html": ("report", "1", "--html", "{tmp}/r.html"),
    "report --csv --json": ("report", "1", "--csv", "{tmp}/r.csv", "--json", "{tmp}/r.json"),
    "run --sensor replay": ("run", "--minutes", "0.2", "--sensor", "replay:1"),
    **WRITE_COMMANDS,
}
# what reads only the sessions and clients tables, which "damaged pages" leaves whole
READS_ONLY_SESSIONS_AND_CLIENTS = {"sessions list", "clients"}


@pytest.mark.parametrize("command", list(STORE_COMMANDS))
@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_log_is_named_kept_as_it_is_and_never_written(data, tmp_path, damage, command):
    db = data / "tidewell.db"
    DAMAGE[damage](db)
    before = digest(db)
    result = tidewell(data, *_args(STORE_COMMANDS[command], tmp_path), timeout=60)
    assert digest(db) == before, "the damaged file was changed"
    assert not (data / "sessions" / "00002").exists(), "a session started on a damaged log"
    if damage == "damaged pages" and command in READS_ONLY_SESSIONS_AND_CLIENTS:
        assert result.returncode == 0 and CLIENT in result.stdout, result.stderr
        return
    line = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    assert result.returncode == 2, result.stderr + result.stdout
    assert (
        line.startswith(f"tidewell: the session log {db} is damaged (")
        and "Tidewell keeps it" in line
        and f"mv {db} {data / 'tidewell-damaged.db'}" in line
    ), line
    if command not in ("sessions show",):  # which prints what it read before it met the damage
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_an_empty_file_is_a_new_log(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "tidewell.db").touch()
    assert "no sessions yet" in tidewell(data, "sessions", "list").stdout
    result = tidewell(data, "run", "--minutes", "0.2")
    assert result.returncode == 0, result.stderr
    assert "completed" in tidewell(data, "sessions", "list").stdout


def test_a_killed_sessions_damaged_log_is_not_written_by_a_read(data):
    # A crash can leave both a 'running' session and damage: reading never marks it then.
    db = data / "tidewell.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE sessions SET status = 'running', pid = 999999999 WHERE id = 1")
    conn.close()
    _damaged_pages(db)
    before = digest(db)
    listed = tidewell(data, "sessions", "list")
    assert listed.returncode == 0 and "running" in listed.stdout
    assert digest(db) == before
    refused = tidewell(data, "run", "--minutes", "0.2")
    assert refused.returncode == 2 and "is damaged" in refused.stderr and digest(db) == before


# -- 4. full disk ----------------------------------------------------------------------------------
@needs_root
def test_a_wav_that_hits_a_full_disk_stops_and_leaves_a_whole_file(tmp_path):
    with tmpfs(tmp_path / "mnt", "1m") as mount:
        output = WavOutput(mount / "breath.wav", sample_rate=24000, keep_free_bytes=0)
        state = make_state()
        for _ in range(30 * 60):  # a minute of frames: far more than the disk holds
            output.advance(state, 1 / 30)
        events = output.drain_events()
        output.close()
        assert output.failure is not None and "No space left on device" in output.failure
        assert [kind for kind, _ in events] == ["sound_file_stopped"] and "the session and its log go on" in events[0][
            1
        ]
        with wave.open(str(mount / "breath.wav")) as wav:
            assert wav.getnframes() == output.frames_written > 24000  # every whole frame written is kept
            assert len(wav.readframes(wav.getnframes())) == output.frames_written * 4


@needs_root
def test_the_wav_leaves_room_for_the_log_and_the_session_completes(tmp_path):
    from tidewell.audio.output import LOG_ROOM_BYTES

    with tmpfs(tmp_path / "mnt", f"{(LOG_ROOM_BYTES >> 20) + 8}m") as mount:
        data = mount / "data"
        data.mkdir()
        fill(mount, leave_bytes=LOG_ROOM_BYTES + (3 << 20))  # the log holds 1 MB of spare room
        result = tidewell(data, "run", "--minutes", "0.5", "--client", CLIENT)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr + result.stdout
        stops = [line for line in result.stdout.splitlines() if ": breath.wav stops at 00:" in line]
        assert len(stops) == 1 and "kept for the session log; the session and its log go on" in stops[0]
        with sqlite3.connect(data / "tidewell.db") as conn:
            assert conn.execute("SELECT status FROM sessions").fetchone()[0] == "completed"
            assert conn.execute("SELECT COUNT(*) FROM beats").fetchone()[0] > 20
        conn.close()
        with wave.open(str(data / "sessions" / "00001" / "breath.wav")) as wav:
            assert 0 < wav.getnframes() < 30 * wav.getframerate()


@needs_root
def test_a_full_disk_under_the_log_is_told_and_the_session_ends_gently_keeping_its_rows(tmp_path):
    program = load_program(resolve_program("taster")).scaled_to(2.0)
    said: list[str] = []
    events: list[tuple[str, str]] = []
    filled: dict = {}
    with tmpfs(tmp_path / "mnt", "16m") as mount:
        db = mount / "data" / "tidewell.db"
        store = SessionStore(db)

        def on_frame(state):
            time.sleep(1 / 150)  # virtual time at about 5x the wall clock, against which the log retries
            if "file" in filled or state.t_s < filled.setdefault("next_look", 0.0):
                return
            filled["next_look"] = state.t_s + 1.0
            with sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True) as reader:
                beats = reader.execute("SELECT COUNT(*) FROM beats").fetchone()[0]
            reader.close()
            if beats >= 10:  # some beats are in: now the disk fills
                filled.update(beats=beats, at=state.t_s, file=fill(mount))

        options = RunOptions(
            client=CLIENT,
            virtual_time=True,
            headless=True,
            say=said.append,
            on_frame=on_frame,
            on_event=lambda t, kind, detail, phase: events.append((kind, detail)),
        )
        result = run_session(program, options, store)
        filled["file"].unlink()
        failures = [line for line in said if "log write failed" in line]
        assert len(failures) == 1, said
        assert f"cannot write the session log {db}: database or disk is full (tried 3 times" in failures[0]
        assert [kind for kind, _ in events].count("log_write_failed") == 1
        assert ("gentle_end", "the session log cannot be written") in events
        assert result.status == "ended_early" and result.simulated_s < filled["at"] + 30
        assert not any("Traceback" in line for line in said)
        reread = SessionStore(db, access="read")
        assert len(reread.beats(result.session_id)) >= filled["beats"] >= 10
        # the writer's spare room, let go of when the disk filled, took the rows until the end and the status
        assert reread.session(result.session_id)["status"] == "ended_early"
        assert "log_write_failed" in [e["kind"] for e in reread.events(result.session_id)]
        assert not list(db.parent.glob(".tidewell.db-spare*"))
        reread.close()
        store.close()


def test_a_row_after_the_writer_closed_is_refused_not_silently_lost(tmp_path):
    """The session's last problems are drained and logged before the writer closes; a row after that
    would be queued for a thread that is gone."""
    store = SessionStore(tmp_path / "data" / "tidewell.db")
    session_id = store.begin(
        program_id="taster",
        program_title="Taster",
        program_minutes=1.0,
        client=CLIENT,
        sensor="sim",
        virtual_time=True,
        seed=0,
    )
    writer = store.writer(session_id)
    writer.event(1.0, "marker", "before the end", 0)
    writer.close("completed")
    with pytest.raises(RuntimeError, match="after the session log's writer closed"):
        writer.event(2.0, "log_write_failed", "too late", 0)
    assert [(e["kind"], e["detail"]) for e in store.events(session_id)] == [("marker", "before the end")]
    assert store.session(session_id)["status"] == "completed"
    store.close()


@needs_root
def test_a_report_on_a_full_disk_says_so_and_keeps_the_earlier_file_whole(data, tmp_path):
    with tmpfs(tmp_path / "mnt", "2m") as mount:
        earlier = mount / "report.html"
        earlier.write_text("the earlier report")
        fill(mount)
        result = tidewell(data, "report", "1", "--html", earlier, "--csv", mount / "s.csv")
        assert result.returncode == 1 and "No space left on device" in _one_line(result)
        assert earlier.read_text() == "the earlier report"
        assert sorted(p.name for p in mount.iterdir()) == ["filler", "report.html"]  # no partial files


@needs_root
def test_on_a_full_disk_the_log_is_still_read_and_a_new_session_is_refused_in_one_line(data, tmp_path):
    with tmpfs(tmp_path / "mnt", "8m") as mount:
        shutil.copytree(data, mount / "data")
        fill(mount)  # SQLite cannot even make its -shm file now
        db = mount / "data" / "tidewell.db"
        before = digest(db)
        listed = tidewell(mount / "data", "sessions", "list")
        assert listed.returncode == 0 and "completed" in listed.stdout, listed.stderr
        shown = tidewell(mount / "data", "sessions", "show", "1")
        assert shown.returncode == 0 and "phase_start" in shown.stdout, shown.stderr
        for args in WRITE_COMMANDS.values():
            refused = tidewell(mount / "data", *args, timeout=60)
            line = _one_line(refused)
            assert (
                refused.returncode == 2 and f"cannot write the session log {db}: its disk ({mount}) is full" in line
            ), line
        assert digest(db) == before
        assert not (mount / "data" / "sessions" / "00002").exists()


def test_a_log_damaged_while_the_console_serves_is_named_not_a_500(tmp_path):
    from console_testbed import run_short_session, running_console

    data = tmp_path / "data"
    run_short_session(data, CLIENT)
    with running_console(data) as console:
        http = console.paired_client()
        assert http.get("/api/clients").status_code == 200
        _random_bytes(data / "tidewell.db")
        for answer in (
            http.get("/api/clients"),
            http.get("/api/clients/1"),
            http.post("/api/clients", json={"pseudonym": "wren-2"}),
        ):
            assert answer.status_code == 503, answer.text
            assert "damaged" in answer.json()["error"] and str(data / "tidewell.db") in answer.json()["error"]
        assert http.get("/").status_code == 200  # the console keeps serving
    assert not [line for line in console.lines if "Traceback" in line]


def test_opening_the_log_again_in_the_same_process_keeps_the_first_connections_locks(tmp_path):
    """The console keeps one store open and opens another per request: the second's header check must
    not drop the first's POSIX locks (closing any descriptor of a file drops them all), or a reader in
    another process believes it is the log's last user and deletes the -wal and -shm files under it."""
    db = tmp_path / "data" / "tidewell.db"
    first = SessionStore(db)
    sid = first.begin(
        program_id="taster",
        program_title="t",
        program_minutes=3,
        client=CLIENT,
        sensor="sim",
        virtual_time=True,
        seed=0,
    )
    for round_ in range(3):
        other = SessionStore(db)
        other.add_event(sid, float(round_), "marker", "from a request", 0)
        other.close()
        reader = (
            f"import sqlite3; c = sqlite3.connect({str(db)!r}); "
            "print(c.execute('SELECT COUNT(*) FROM events').fetchone()[0]); c.close()"
        )
        assert subprocess.run(
            [sys.executable, "-c", reader], capture_output=True, text=True, check=True
        ).stdout.strip() == str(2 * round_ + 1)
        assert first.client(CLIENT) is not None
        first.add_event(sid, round_ + 0.5, "marker", "from the session's own store", 0)
    assert len(first.events(sid)) == 6
    first.close()
