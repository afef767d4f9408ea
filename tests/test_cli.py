"""The `tidewell` command itself: the options each command offers, and what a failure prints.

A TidewellError (a mistake the person can fix) ends with one line and exit 2; anything else is a
bug and keeps its traceback (exit 1), ValueError and OSError included.
"""

import ast
import builtins
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tidewell.core.errors import OutputFileError, ResourceUnavailable, TidewellError, UsageError
from tidewell.engine import commands
from tidewell.engine.cli import main

ROOT = Path(__file__).resolve().parent.parent

# Every command's options as `tidewell ... --help` listed them before the options were shared
# (engine/cli.py before issue 15), in the order listed; " {}" keys are a command's subcommands.
OPTIONS = {
    "": ["-h", "--version"],
    " {}": [
        "run",
        "xr",
        "console",
        "programs",
        "sensors",
        "scenes",
        "audio",
        "rate",
        "hrv",
        "report",
        "clients",
        "sessions",
    ],
    "run": [
        "-h",
        "--client",
        "--sensor",
        "--adapter",
        "--pain",
        "--stress",
        "--note",
        "--virtual-time",
        "--real-time",
        "--minutes",
        "--headless",
        "--seed",
        "--audio-device",
        "--target",
        "--xr-space",
        "--no-mirror",
        "--sound-when-headset-off",
        "--eyes-closed",
    ],
    "xr": ["-h"],
    "xr {}": ["info"],
    "xr info": ["-h"],
    "console": [
        "-h",
        "--port",
        "--lan",
        "--sensor",
        "--adapter",
        "--headless",
        "--seed",
        "--audio-device",
        "--target",
        "--sound-when-headset-off",
        "--no-live-view",
    ],
    "programs": ["-h"],
    "programs {}": ["list", "show", "validate"],
    "programs list": ["-h"],
    "programs show": ["-h"],
    "programs validate": ["-h"],
    "sensors": ["-h"],
    "sensors {}": ["scan", "watch", "decode"],
    "sensors scan": ["-h", "--seconds", "--adapter"],
    "sensors watch": ["-h", "--seconds", "--adapter"],
    "sensors decode": ["-h"],
    "scenes": ["-h"],
    "scenes {}": ["list", "validate", "render", "preview", "import"],
    "scenes list": ["-h"],
    "scenes validate": ["-h"],
    "scenes render": ["-h", "--out", "--state", "--posture", "--eye", "--size"],
    "scenes preview": ["-h", "--size"],
    "scenes import": ["-h", "--id", "--layout", "--yaw", "--title", "--postures", "--into", "--force"],
    "audio": ["-h"],
    "audio {}": ["render"],
    "audio render": ["-h", "--out", "--minutes", "--sensor", "--seed", "--rate"],
    "rate": ["-h", "--pain", "--stress", "--note", "--fms", "--ssq"],
    "hrv": ["-h", "--json"],
    "report": ["-h", "--client", "--html", "--csv", "--json", "--pdf", "--fhir", "--anonymize"],
    "clients": ["-h"],
    "clients {}": ["list", "intake", "plan", "show", "reassess"],
    "clients list": ["-h"],
    "clients intake": ["-h", "--precaution", "--goal", "--referrer"],
    "clients plan": ["-h", "--sessions", "--per-week", "--program", "--measure", "--reassess-every"],
    "clients show": ["-h"],
    "clients reassess": ["-h", "--pain", "--stress", "--note", "--goal-progress"],
    "sessions": ["-h"],
    "sessions {}": ["list", "show"],
    "sessions list": ["-h", "--limit"],
    "sessions show": ["-h"],
}


def listed(path: list[str], capsys) -> tuple[list[str], list[str]]:
    """(the options in the usage line, the subcommands) of `tidewell PATH --help`."""
    with pytest.raises(SystemExit) as exit:
        main([*path, "--help"])
    assert exit.value.code == 0
    text = capsys.readouterr().out
    usage = text.split("\n\n", 1)[0]
    subcommands = re.search(r"^[\w ]*commands:\n  \{([\w,-]+)\}", text, re.M)
    return re.findall(r"(?<![\w-])(-{1,2}[A-Za-z][\w-]*)", usage), subcommands.group(1).split(
        ","
    ) if subcommands else []


def test_every_command_lists_the_options_it_had(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # the usage on one line
    found = {}
    pending = [[]]
    while pending:
        path = pending.pop(0)
        options, subcommands = listed(path, capsys)
        found[" ".join(path)] = options
        if subcommands:
            found[" ".join(path) + " {}"] = subcommands
            pending += [[*path, name] for name in subcommands]
    assert found == OPTIONS


@pytest.mark.parametrize(
    "error",
    [
        UsageError("give --pain, --stress or --note"),
        OutputFileError("/x/y.wav: cannot write it (no such folder)"),
        ResourceUnavailable("the console could not listen on 127.0.0.1:1"),
    ],
)
def test_a_tidewell_error_ends_with_one_line_and_exit_2(error, capsys, monkeypatch):
    def fails(args):
        raise error

    monkeypatch.setattr(commands, "programs_list", fails)
    assert main(["programs", "list"]) == 2
    captured = capsys.readouterr()
    assert captured.err == f"tidewell: {error}\n" and captured.out == ""


@pytest.mark.parametrize(
    "bug",
    [
        ZeroDivisionError("division by zero"),
        ValueError("math domain error"),
        OSError(9, "Bad file descriptor"),
        KeyError("phase"),
    ],
)
def test_a_bug_is_not_turned_into_a_message(bug, capsys, monkeypatch):
    """ValueError and OSError included: before, any of those became 'tidewell: ...' and exit 2."""

    def fails(args):
        raise bug

    monkeypatch.setattr(commands, "programs_list", fails)
    with pytest.raises(type(bug)) as raised:
        main(["programs", "list"])
    assert raised.value is bug
    assert capsys.readouterr().err == ""


def test_a_bug_shows_its_traceback_and_exits_1(tmp_path):
    script = (
        "import sys\n"
        "from tidewell.engine import commands\n"
        "from tidewell.engine.cli import main\n"
        "def show(args):\n"
        "    return len('phases') // 0\n"
        "commands.programs_show = show\n"
        "sys.exit(main(['programs', 'show', 'taster']))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 1, result.stderr
    assert "Traceback (most recent call last)" in result.stderr and "in show" in result.stderr
    assert result.stderr.rstrip().endswith("ZeroDivisionError: integer division or modulo by zero")


def _error_classes() -> dict[str, tuple[str, list[str]]]:
    """{class name: (module file, base names)} of every exception class the package defines."""
    exception_names = {
        name for name, value in vars(builtins).items() if isinstance(value, type) and issubclass(value, BaseException)
    }
    found = {}
    for package in ("core", "sensors", "scenes", "sessions", "audio", "engine"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ClassDef):
                    bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                    found[node.name] = (str(path.relative_to(ROOT)), bases)
    errors = {}
    changed = True
    while changed:  # a class deriving from an exception class is one too
        changed = False
        for name, (path, bases) in found.items():
            if name not in errors and any(b in exception_names or b in errors for b in bases):
                errors[name] = (path, bases)
                changed = True
    return errors


# Raised only to catch a bug (TIDEWELL_STRICT_EVENT_KINDS=1): it must keep its traceback.
NOT_FOR_PEOPLE = {"UnknownEventKind"}


def test_every_error_tidewell_raises_on_purpose_is_a_tidewell_error():
    errors = _error_classes()
    assert {"ProgramError", "SceneError", "StoreError", "KeyMapError", "ReplayError", "XrUnavailable"} <= set(errors)
    roots = {"TidewellError"}
    while True:
        more = {name for name, (_, bases) in errors.items() if set(bases) & roots} - roots
        if not more:
            break
        roots |= more
    outside = sorted(
        f"{path}: {name}"
        for name, (path, _) in errors.items()
        if name not in roots | NOT_FOR_PEOPLE | {"TidewellError"}
    )
    assert outside == []


def test_the_errors_keep_the_bases_they_had():
    from tidewell.core.keymap import KeyMapError
    from tidewell.core.private_files import NotAFolder, ReadOnlyFile
    from tidewell.scenes.catalog import SceneError
    from tidewell.sensors.ble import BluetoothUnavailable
    from tidewell.sensors.replay import ReplayError
    from tidewell.sessions.program import ProgramError
    from tidewell.sessions.store_checks import StoreDamaged

    for error, base in (
        (ProgramError, ValueError),
        (KeyMapError, ValueError),
        (ReplayError, ValueError),
        (UsageError, ValueError),
        (StoreDamaged, OSError),
        (OutputFileError, OSError),
        (ReadOnlyFile, PermissionError),
        (NotAFolder, NotADirectoryError),
        (BluetoothUnavailable, RuntimeError),
        (SceneError, Exception),
    ):
        assert issubclass(error, TidewellError) and issubclass(error, base), error
    assert str(OutputFileError("/x.wav: cannot write it")) == "/x.wav: cannot write it"
