"""The audio benchmark blames each JACK xrun on the machine or on the engine
(benchmarks/audio_callback.py). Here both are caused on purpose on a real JACK dummy server: a
client under test frozen for a few periods (SIGSTOP) while jackd and the C control client run on,
then jackd itself frozen, which every client sees as late."""

from __future__ import annotations

import os
import signal
import time

from jack_testbed import ControlClient, attribute, jack_server  # noqa: F401  (fixture)

FROZEN_S = 0.12  # a dozen 10 ms periods; far below jackd's client time-out
FREEZE_ATTEMPTS = 3


def _freeze(pid: int) -> None:
    os.kill(pid, signal.SIGSTOP)
    time.sleep(FROZEN_S)
    os.kill(pid, signal.SIGCONT)


def _settle(server, events_before: int) -> list[dict]:
    """The xrun events since `events_before`, once some came and the log was quiet for 0.5 s (the
    deadline only stops a hung test)."""
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        events = server.xrun_events()
        if len(events) > events_before and time.monotonic() - events[-1]["at"] > 0.5:
            return events[events_before:]
        time.sleep(0.05)
    return server.xrun_events()[events_before:]


def test_a_frozen_client_is_blamed_and_a_frozen_server_is_the_machine(jack_server):
    control = ControlClient(jack_server)
    tested = ControlClient(jack_server, name="client-under-test")
    try:
        time.sleep(0.5)
        # Judged by the events the freeze caused: a busy machine may add xruns of its own meanwhile,
        # and one that stalls jackd during the freeze reports only its own late cycle (jackd then
        # names no client): that freeze proves nothing and is made again.
        for _attempt in range(FREEZE_ATTEMPTS):
            before = len(jack_server.xrun_events())
            _freeze(tested.process.pid)
            events = _settle(jack_server, before)
            frozen = [event for event in events if tested.name in event["unfinished"]]
            if frozen or not any(event["driver_late"] for event in events):
                break
        assert frozen, events
        blamed = attribute(frozen, [tested.name], control.name)
        assert blamed["engine"] >= 1, (blamed, events)

        before = len(jack_server.xrun_events())
        _freeze(jack_server.pid)
        events = _settle(jack_server, before)
        late = [event for event in events if event["driver_late"]]
        assert late, events
        blamed = attribute(late, [tested.name], control.name)
        assert blamed["machine"] == len(late) and blamed["engine"] == 0, (blamed, events)
    finally:
        tested.stop()
        control.stop()
