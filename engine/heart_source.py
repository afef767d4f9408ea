"""The heart a session listens to, from its --sensor word: a simulated heart, a Bluetooth strap, an RR
file, or a logged session again (sensors/spec.py)."""

from __future__ import annotations

from collections.abc import Callable

from tidewell.core.errors import UsageError
from tidewell.core.words import plural
from tidewell.sensors.replay import load_rr_csv
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sensors.source import BeatSource
from tidewell.sensors.spec import parse_sensor
from tidewell.sessions.store import SessionStore


def make_source(
    sensor: str,
    seed: int,
    say: Callable[[str], None],
    clock=None,
    store: SessionStore | None = None,
    adapter: str | None = None,
) -> BeatSource:
    kind, argument = parse_sensor(sensor)
    if kind == "sim":
        return SimulatedHeart(seed=seed)
    if kind == "ble":
        from tidewell.sensors.ble import BleHeartRateSource

        return BleHeartRateSource(argument, clock.now, adapter).start()
    if argument.isdigit():
        return _session_replay(int(argument), store or SessionStore())
    source, problems = load_rr_csv(argument)
    for problem in problems[:10]:
        say(f"skipped bad row: {problem}")
    if len(problems) > 10:
        say(f"... and {plural(len(problems) - 10, 'more bad row')}")
    return source


def _session_replay(session_id: int, store: SessionStore):
    """A logged session's raw Bluetooth packets, or, for sessions without any, its raw RR series."""
    from tidewell.sensors.packet_replay import PacketReplay
    from tidewell.sensors.replay import RRReplay
    from tidewell.sensors.source import RawRR

    if store.session(session_id) is None:
        raise UsageError(f"no session {session_id} in {store.path} to replay")
    packets = store.packets(session_id)
    if packets:
        disconnects = [e["t_s"] for e in store.events(session_id) if e["kind"] == "sensor_disconnected"]
        return PacketReplay(
            packets, f"replay of session {session_id} ({plural(len(packets), 'Bluetooth packet')})", disconnects
        )
    beats = [RawRR(b["t_s"], b["rr_ms"]) for b in store.beats(session_id) if not b["inserted"]]
    if not beats:
        raise UsageError(f"session {session_id} has no recorded heart data to replay")
    return RRReplay(beats, name="replay", description=f"replay of session {session_id} ({plural(len(beats), 'beat')})")
