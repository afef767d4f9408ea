"""One registry of event kinds (core/event_kinds.py): every kind the package emits is in it, an
unregistered one is caught, and every registered kind reaches each place that shows it: the log, the
console hub, the terminal, the report and the export."""

from __future__ import annotations

import ast
import json
import logging
from pathlib import Path

import pytest

from tidewell.core import event_kinds
from tidewell.core.event_kinds import KINDS, UnknownEventKind
from tidewell.engine.console.hub import ConsoleHub, StartRequest
from tidewell.engine.session_outputs import EventFanOut
from tidewell.sessions.export import export_json, load_session
from tidewell.sessions.report import write_html_report
from tidewell.sessions.store import SessionStore

PACKAGE = Path(event_kinds.__file__).resolve().parents[1]  # the repository root is the package
NOT_PACKAGE = {"tests", "benchmarks", ".venv", ".ci", ".git", "build"}

# (call name, index of the kind argument, prefix the emitter adds to the kind)
EMITTERS = {
    "_log": (1, ""),
    "event": (1, ""),
    "emit": (1, ""),
    "on_event": (1, ""),
    "add_event": (2, ""),
    "SensorEvent": (1, "sensor_"),
    "_post": (0, "sensor_"),
    "Event": (1, ""),
}
QUEUES = {("append", "_events"), ("put", "_problems")}  # (method, queue attribute) of queued (kind, detail) pairs
NOT_EVENTS = {("_post", "packet")}  # the BLE thread's packets are data, not events
# Kind arguments that are not literals: where they come from. A forwarded kind was checked where it
# was made; a variable that holds one of a few literals names them here.
NON_LITERAL = {
    ("engine/session_loop.py", "event.kind"): "forwarded: the runner's events, made in sessions/runner.py",
    ("sessions/runner.py", "f'sensor_{event.kind}'"): "forwarded: SensorEvent kinds, made in sensors/",
    ("sensors/ble.py", "kind"): ("sensor_body_location", "sensor_battery"),  # _read_details and poll()
    (
        "engine/session_loop.py",
        "kind",
    ): "forwarded: audio, headset and log-writer events, made in audio/, engine/xr/ and sessions/store_writer.py",
    (
        "engine/session_outputs.py",
        "kind",
    ): "the fan-out (EventFanOut.emit): passes on the kinds engine/session_loop.py gives it",
    ("sessions/runner.py", "kind"): "forwarded: SessionRunner._log makes the runner's events from its literals",
}
NOT_EMITTED_YET: set[str] = set()


def _package_files():
    for path in sorted(PACKAGE.rglob("*.py")):
        if not NOT_PACKAGE & set(path.relative_to(PACKAGE).parts):
            yield path


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def _literals(node) -> list[str] | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        both = (_literals(node.body), _literals(node.orelse))
        return None if None in both else both[0] + both[1]
    return None


def emitted_kinds() -> tuple[dict[str, list[str]], set, list[str]]:
    """{kind: [where]}, the NON_LITERAL entries used, and the emitting calls nothing explains."""
    found: dict[str, list[str]] = {}
    used, unexplained = set(), []

    def add(kind: str, where: str) -> None:
        found.setdefault(kind, []).append(where)

    for path in _package_files():
        relative = path.relative_to(PACKAGE).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            where = f"{relative}:{getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.Call) and _call_name(node) in EMITTERS:
                name = _call_name(node)
                index, prefix = EMITTERS[name]
                if len(node.args) <= index:
                    continue
                argument = node.args[index]
                literals = _literals(argument)
                if literals is not None:
                    for literal in literals:
                        if (name, literal) not in NOT_EVENTS:
                            add(prefix + literal, where)
                    continue
                key = (relative, ast.unparse(argument))
                if key not in NON_LITERAL:
                    unexplained.append(f"{where}: {ast.unparse(node)}")
                    continue
                used.add(key)
                if isinstance(NON_LITERAL[key], tuple):
                    for kind in NON_LITERAL[key]:
                        add(kind, where)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and (node.func.attr, getattr(node.func.value, "attr", None)) in QUEUES
                and node.args
                and isinstance(node.args[0], ast.Tuple)
            ):
                # audio/, engine/xr/target.py and the log writer queue (kind, detail) pairs
                literals = _literals(node.args[0].elts[0])
                if literals is None:
                    unexplained.append(f"{where}: {ast.unparse(node)}")
                for literal in literals or ():
                    add(literal, where)
            elif isinstance(node, ast.Dict) and "detail" in {getattr(k, "value", None) for k in node.keys}:
                # an event built in place (the hub's start_failed): kind and detail; other dicts with a
                # "kind" (a panorama's scene.toml) are not events
                for key, value in zip(node.keys, node.values):
                    if isinstance(key, ast.Constant) and key.value == "kind" and _literals(value):
                        add(_literals(value)[0], where)
    return found, used, unexplained


def test_every_kind_the_package_emits_is_registered():
    found, used, unexplained = emitted_kinds()
    assert not unexplained, "event kinds that are neither literals nor explained in NON_LITERAL:\n" + "\n".join(
        unexplained
    )
    unregistered = {kind: where for kind, where in found.items() if kind not in KINDS}
    assert not unregistered, f"emitted but not in core/event_kinds.py: {unregistered}"
    assert used == set(NON_LITERAL), f"stale NON_LITERAL entries: {set(NON_LITERAL) - used}"
    # the scan sees every sort of emitter: runner, sensors, BLE link, audio, headset, scenes, hub, analysis
    for kind in (
        "phase_start",
        "pause",
        "resume",
        "sensor_lost",
        "sensor_contact_lost",
        "sensor_contact_back",
        "sensor_malformed",
        "sensor_connected",
        "sensor_disconnected",
        "sensor_error",
        "audio_lost",
        "sound_file_stopped",
        "audio_back",
        "headset_off",
        "headset_on",
        "xr_state",
        "xr_lost",
        "scene_problem",
        "start_failed",
        "session_failed",
        "resonance",
    ):
        assert kind in found, f"the scan no longer finds {kind!r}: an emitter changed form"
    never_emitted = set(KINDS) - set(found) - NOT_EMITTED_YET
    assert not never_emitted, f"registered but never emitted (dead entries): {never_emitted}"


def test_the_registry_is_self_consistent():
    for entry in KINDS.values():
        assert entry.terminal in (event_kinds.LINE, event_kinds.SAMPLED, event_kinds.OWN, event_kinds.SILENT)
        assert entry.label and entry.label == entry.label.strip() and "_" not in entry.label, entry
        assert all(end in KINDS for end in entry.ends), entry
    assert len({entry.label for entry in KINDS.values()}) == len(KINDS), "two kinds share a label"
    source = Path(event_kinds.__file__).read_text(encoding="utf-8")
    assert "import tidewell" not in source and "from tidewell" not in source  # a ground-floor module


@pytest.fixture
def store(tmp_path):
    store = SessionStore(tmp_path / "tidewell.db")
    yield store
    store.close()


def _session(store: SessionStore) -> int:
    return store.begin(
        program_id="taster",
        program_title="Taster",
        program_minutes=3.0,
        client="C-1",
        sensor="sim",
        virtual_time=True,
        seed=0,
    )


def test_an_unregistered_kind_raises_in_tests_and_is_kept_under_a_generic_label_in_use(store, monkeypatch, caplog):
    session_id = _session(store)
    writer = store.writer(session_id)
    hub = ConsoleHub()
    with pytest.raises(UnknownEventKind, match="'made_up_kind'"):
        writer.event(1.0, "made_up_kind", "x", 0)
    with pytest.raises(UnknownEventKind):
        hub.event(1.0, "made_up_kind", "x", 0)
    with pytest.raises(UnknownEventKind):
        store.add_event(session_id, 1.0, "made_up_kind", "x")

    monkeypatch.setenv(event_kinds.STRICT_ENV, "0")  # as in use: nothing logged may be lost for it
    said = []
    with caplog.at_level(logging.WARNING, logger="tidewell.events"):
        EventFanOut(writer, said.append, hub.event).emit(2.0, "made_up_kind", "from a newer emitter", 0)
    writer.close("completed")
    assert "not registered" in caplog.text
    assert [(e["kind"], e["detail"]) for e in store.events(session_id)] == [("made_up_kind", "from a newer emitter")]
    shown = hub.snapshot()["events"]
    assert [(e["kind"], e["label"]) for e in shown] == [("made_up_kind", "made up kind")]
    assert said == ["  00:02  made up kind: from a newer emitter"]


def test_every_registered_kind_reaches_the_log_console_terminal_report_and_export(store, tmp_path):
    session_id = _session(store)
    hub = ConsoleHub()
    hub.request_start(StartRequest("C-1", 1, "taster", None, {}), None)
    hub.session_began(session_id, 1, {"id": "taster", "phases": []})
    said: list[str] = []
    writer = store.writer(session_id)
    writer.phase_start(0, _Phase(), 0.0)
    fan_out = EventFanOut(writer, said.append, hub.event)
    logged = [entry for entry in KINDS.values() if entry.logged]
    for second, entry in enumerate(logged, start=1):
        fan_out.emit(float(second), entry.name, f"detail of {entry.name}", 0)
    writer.close("completed")
    hub.session_failed("interrupted", "cannot make the session folder")
    hub.start_failed("no such program")

    rows = {row["kind"]: row["detail"] for row in store.events(session_id)}
    assert rows == {entry.name: f"detail of {entry.name}" for entry in logged}

    shown = {e["kind"]: e for e in hub.snapshot()["events"]}
    assert set(shown) == {name for name, entry in KINDS.items() if entry.console}
    assert all(shown[name]["label"] == KINDS[name].label for name in shown)

    for entry in logged:
        line = f"{entry.label}: detail of {entry.name}"
        lines = [s for s in said if s.endswith(f"detail of {entry.name}")]
        if entry.terminal == event_kinds.LINE:
            assert [s.split("  ", 2)[2] for s in lines] == [line], entry.name
        elif entry.terminal == event_kinds.SAMPLED:
            assert [s.split("  ", 2)[2] for s in lines] == [f"{entry.label} #1: detail of {entry.name}"]
        else:
            assert lines == [], f"{entry.name} is {entry.terminal}: the fan-out must leave it to its emitter"

    page = tmp_path / "report.html"
    write_html_report(store, session_id, page, progress=False)
    events_section = page.read_text(encoding="utf-8").split("<h2>Markers, alerts and interruptions</h2>")[1]
    events_section = events_section.split("<h2>")[0]
    for entry in logged:
        listed = f">{entry.label}</td>" in events_section and f"detail of {entry.name}" in events_section
        assert listed == entry.report, f"{entry.name}: report={entry.report} but listed={listed}"

    exported = json.loads(
        export_json(load_session(store, session_id, progress=False), tmp_path / "s.json").read_text(encoding="utf-8")
    )
    assert {e["kind"]: e["label"] for e in exported["events"]} == {entry.name: entry.label for entry in logged}
    anonymous = load_session(store, session_id, anonymize=True, progress=False)
    kept = {e["kind"] for e in anonymous.events if e["detail"]}
    assert kept == {entry.name for entry in logged if entry.program_detail}


class _Phase:
    """The phase row writer.phase_start needs."""

    name = "settle"
    scene = "ember"
    duration_s = 60.0

    class kind:
        value = "settle"

    class posture:
        value = "prone"


def test_a_real_strap_dropout_reaches_the_console_of_a_running_session(hr_peripheral, store, monkeypatch):
    """A console-style run (the hub's on_event and controls) on unmodified bleak against BlueZoo: the strap
    slips off the skin and back, then the link drops and the engine reconnects. The console shows all of it."""
    import threading
    import time

    from tidewell.engine.session import RunOptions, run_session
    from tidewell.sessions.program import builtin_programs, load_program

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", hr_peripheral.testbed.bus_address)
    hub = ConsoleHub()
    hub.request_start(StartRequest("C-1", 1, "taster", None, {}), None)
    said: list[str] = []
    script_failure: list[BaseException] = []

    def shown() -> list[str]:
        return [e["kind"] for e in hub.snapshot()["events"]]

    def until(condition, what: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; the console shows {shown()}")
            time.sleep(0.05)

    def strap() -> None:
        try:
            hr_peripheral.command_ok("wait-subscribed 20", timeout_s=25)
            hr_peripheral.command_ok("beat 60 1000 contact")
            hr_peripheral.command_ok("beat 0 300 nocontact")  # the strap slips off the skin
            until(lambda: "sensor_contact_lost" in shown(), "contact lost")
            hr_peripheral.command_ok("beat 61 980 contact")
            until(lambda: "sensor_contact_back" in shown(), "contact back")
            hr_peripheral.disconnect_central()  # the link drops, as when the client turns over on the strap
            until(lambda: shown().count("sensor_connected") == 2, "the reconnect")
        except BaseException as error:  # reported by the test thread below
            script_failure.append(error)
        finally:
            hub.command("end", "the strap script is over", None)

    program = load_program(builtin_programs()["taster"]).scaled_to(1.0)  # an upper bound; the script ends it
    options = RunOptions(
        client="C-1",
        sensor=f"ble:{hr_peripheral.address}",
        adapter="hci0",
        headless=True,
        say=said.append,
        controls=hub.controls,
        on_event=hub.event,
        on_frame=hub.frame,
        on_begin=lambda sid: hub.session_began(sid, 1, {"id": "taster", "phases": []}),
        attended=True,
        client_label="client #1",
    )
    script = threading.Thread(target=strap, name="strap-script", daemon=True)
    script.start()
    result = run_session(program, options, store)
    script.join(timeout=30)
    assert not script_failure, script_failure[0]
    assert result.status == "ended_early"

    events = hub.snapshot()["events"]
    kinds = [e["kind"] for e in events]
    for kind in ("sensor_connected", "sensor_contact_lost", "sensor_contact_back", "sensor_disconnected"):
        assert kind in kinds, f"{kind} never reached the console: {kinds}"
    order = [
        kinds.index("sensor_contact_lost"),
        kinds.index("sensor_contact_back"),
        kinds.index("sensor_disconnected"),
        len(kinds) - 1 - kinds[::-1].index("sensor_connected"),
    ]
    assert order == sorted(order), kinds
    labels = {e["kind"]: e["label"] for e in events}
    assert labels["sensor_contact_lost"] == "no skin contact" and labels["sensor_connected"] == "sensor connected"
    logged = {(row["kind"], row["detail"]) for row in store.events(result.session_id)}
    assert {(e["kind"], e["detail"]) for e in events} <= logged  # the console shows what the log keeps
    assert any("no skin contact: the sensor reports no skin contact" in line for line in said)
    assert any("sensor disconnected:" in line for line in said)
