"""A session loop playing through DeviceOutput, in a process of its own, for the device-loss test.

    python loss_child.py --seconds 14 [--program taster] [--fps 60] [--device JACK]

The JACK server (JACK_DEFAULT_SERVER in the environment) is killed and restarted by the parent
while this runs. A separate process because PortAudio's JACK host API can abort the whole
process when a stream outlives its server; here that fails one test instead of the test run.
Prints one JSON object per line: {"ready": t}, {"event": kind, "detail": ..., "t": t} as
drain_events() reports them, and at the end {"summary": {...}}.
"""
from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=14.0)
    parser.add_argument("--program", default="taster")
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--device", default="JACK")
    args = parser.parse_args()

    from tidewell.audio.device import DeviceOutput
    from tidewell.engine.clock import RealClock
    from tidewell.sensors.simulated import SimulatedHeart
    from tidewell.sessions.program import load_program, resolve_program
    from tidewell.sessions.runner import SessionRunner

    def say(**message) -> None:
        print(json.dumps(message), flush=True)

    program = load_program(resolve_program(args.program))
    output = DeviceOutput(device=args.device, seed=0)
    runner = SessionRunner(program, SimulatedHeart(seed=0), unattended=True)
    clock = RealClock()
    frame_dt = 1.0 / args.fps
    frames, slowest_advance, slowest_step, last_wall, largest_gap = 0, 0.0, 0.0, None, 0.0
    events = []
    last_t = 0.0
    try:
        while clock.now() < args.seconds and not runner.finished:
            now = clock.now()
            wall = time.perf_counter()
            if last_wall is not None:
                largest_gap = max(largest_gap, wall - last_wall)
            last_wall = wall
            state = runner.step(now)
            before = time.perf_counter()
            output.advance(state, now - last_t)
            slowest_advance = max(slowest_advance, time.perf_counter() - before)
            last_t = now
            for kind, detail in output.drain_events():
                events.append((now, kind, detail))
                say(event=kind, detail=detail, t=now)
            slowest_step = max(slowest_step, time.perf_counter() - wall)
            if frames == 0:
                say(ready=now)
            frames += 1
            clock.sleep_until(now + frame_dt)
        stats = output.stats()
    finally:
        close_started = time.perf_counter()
        output.close()
        close_s = time.perf_counter() - close_started
    say(summary={"frames": frames, "session_s": clock.now(), "slowest_advance_s": slowest_advance,
                 "slowest_frame_work_s": slowest_step, "largest_frame_gap_s": largest_gap, "close_s": close_s,
                 "events": events, "losses": stats["losses"], "reopens": stats["reopens"],
                 "callbacks": stats["callbacks"], "underruns": stats["underruns"]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
