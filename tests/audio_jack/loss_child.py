"""A session loop playing through DeviceOutput, in a process of its own, for the device-loss test.

    python loss_child.py [--seconds 120] [--program taster] [--fps 60] [--device JACK]

The JACK server (JACK_DEFAULT_SERVER in the environment) is killed and restarted by the parent
while this runs. A separate process because PortAudio's JACK host API can abort the whole
process when a stream outlives its server; here that fails one test instead of the test run.
Prints one JSON object per line: {"ready": t}, {"event": kind, "detail": ..., "t": t} as
drain_events() reports them, and at the end {"summary": {...}}. It ends when a line "stop" comes
on stdin (or stdin closes), or after --seconds at most.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from frame_thread import FrameThreadProbe


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--program", default="taster")
    parser.add_argument("--fps", type=float, default=60.0)
    parser.add_argument("--device", default="JACK")
    args = parser.parse_args()

    from tidewell.audio.device import DeviceOutput
    from tidewell.core.clock import RealClock
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
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    frames, frames_while_lost, frames_after_back, lost, came_back = 0, 0, 0, False, False
    events = []
    last_t = 0.0
    probe = FrameThreadProbe()  # advance() and drain_events(): what the frame thread calls on the sound
    try:
        while clock.now() < args.seconds and not runner.finished and not stop.is_set():
            now = clock.now()
            state = runner.step(now)
            probe.call(output.advance, state, now - last_t)
            last_t = now
            for kind, detail in probe.watch(output.drain_events):
                events.append((now, kind, detail))
                lost = kind == "audio_lost" or (lost and kind != "audio_back")
                came_back = came_back or kind == "audio_back"
                say(event=kind, detail=detail, t=now)
            if frames == 0:
                say(ready=now)
            frames += 1
            frames_while_lost += lost
            frames_after_back += came_back and not lost
            clock.sleep_until(now + frame_dt)
        stats = output.stats()
    finally:
        probe.close()
        output.close()
    say(
        summary={
            "frames": frames,
            "frames_while_lost": frames_while_lost,
            "frames_after_back": frames_after_back,
            "session_s": clock.now(),
            "frame_thread": probe.summary(),
            "events": events,
            "losses": stats["losses"],
            "reopens": stats["reopens"],
            "callbacks": stats["callbacks"],
            "underruns": stats["underruns"],
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
