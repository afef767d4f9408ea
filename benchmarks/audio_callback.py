"""Audio callback cost and underruns: the breathing guide's synth per 10 ms block, and a long run on JACK.

    python benchmarks/audio_callback.py [--minutes 10] [--blocks 20000] [--period-frames 1024] [--skip-jack]

1. Direct: BreathSynth.render_into on 480-frame blocks (10 ms at 48 kHz, stereo float32) with every
   layer playing (breath, drone, ocean, rain, wind, chime) and a new frame state every 1-2 blocks,
   as at 60 fps. p50 / p99 / max compute time and the real-time factor (block duration / compute
   time). Baseline: a plain numpy sine fill of the same block, timed the same way.
   Goal: real-time factor >= 50x at p99 (p99 <= 0.2 ms). Then the same with the block's idle time
   slept between blocks, as a callback runs, to show what cold caches cost on this machine.
2. Live: a session (full_body_60 scaled to --minutes) through DeviceOutput on a private JACK dummy
   server (tests/audio_jack/jack_testbed.py) with real-time scheduling and 1024-frame periods (21 ms),
   the default period of both jackd and PipeWire. Compute times from DeviceOutput.stats():
   the callback's own (it copies blocks rendered ahead, audio/ahead.py) and the render process's per
   block. Underruns from the callback status flags, jackd's own xrun reports, and callbacks the
   render process left short. Goal: zero underruns.
   Baseline in the same run: cyclictest (Debian's rt-tests), when installed, times how late this
   machine wakes a real-time thread in C, the floor under every JACK client's timing. On a VM
   that wakes such a thread 5-7 ms late, 10 ms periods (--period-frames 480) leave too little
   margin for any client.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "audio_jack"))

RATE = 48000
BLOCK = 480
BLOCK_S = BLOCK / RATE
ALL_LAYERS = (("breath", 0.8), ("drone", 0.5), ("ocean", 0.5), ("rain", 0.3), ("wind", 0.3), ("chime", 0.5))


def summarise(compute_s: np.ndarray, block_s: float = BLOCK_S) -> dict:
    """Percentiles, and the real-time factor: the block's duration over its compute time."""
    p50, p99 = np.percentile(compute_s, [50, 99])
    return {
        "blocks": int(len(compute_s)),
        "p50_ms": 1e3 * p50,
        "p99_ms": 1e3 * p99,
        "max_ms": 1e3 * float(compute_s.max()),
        "rtf_p50": block_s / p50,
        "rtf_p99": block_s / p99,
    }


def states_for(blocks: int) -> list:
    """One frame state per 60 fps frame over `blocks` 10 ms blocks: a 6 breaths/min guide that
    turns (chimes), calm drifting, every layer on."""
    from tidewell.core.frame_state import BreathStage, FrameState, Posture

    states = []
    for frame in range(int(blocks * BLOCK_S * 60) + 2):
        t = frame / 60.0
        phase = (t / 10.0) % 1.0
        inhale = phase < 0.4
        level = 0.5 - 0.5 * np.cos(np.pi * (phase / 0.4 if inhale else 1.0 + (phase - 0.4) / 0.6))
        states.append(
            FrameState(
                t_s=t,
                phase_index=int(t // 60),
                phase_name="bench",
                phase_elapsed_s=t % 60,
                phase_progress=0.0,
                breath_phase=phase,
                breath_stage=BreathStage.INHALE if inhale else BreathStage.EXHALE,
                breath_level=float(level),
                pace_bpm=6.0,
                calm=0.5 + 0.4 * np.sin(t / 30.0),
                posture=Posture.SUPINE,
                scene="bench",
                previous_scene=None,
                crossfade=1.0,
                fade=1.0,
                audio_layers=ALL_LAYERS,
            )
        )
    return states


def direct(blocks: int, idle_s: float = 0.0) -> tuple[dict, dict]:
    """Back to back (idle_s 0), or with idle_s of sleep between blocks, as a sound card's callback
    runs: then caches and the CPU have gone cold by the next block."""
    from tidewell.audio.synth import BreathSynth

    synth = BreathSynth(sample_rate=RATE, channels=2, seed=0)
    states = states_for(blocks)
    out = np.zeros((BLOCK, 2), dtype=np.float32)
    times = np.zeros(blocks)
    for _ in range(200):  # warm-up: first blocks, caches
        synth.render_into(states[0], out)
    for k in range(blocks):
        state = states[int(k * BLOCK_S * 60)]
        start = time.perf_counter()
        synth.render_into(state, out)
        times[k] = time.perf_counter() - start
        if idle_s:
            time.sleep(idle_s)

    phase = np.zeros(BLOCK)
    steps = np.arange(BLOCK) * (2 * np.pi * 220.0 / RATE)
    base = np.zeros(blocks)
    offset = 0.0
    for k in range(blocks):
        start = time.perf_counter()
        np.add(steps, offset, out=phase)
        np.sin(phase, out=phase)
        out[:, 0] = phase
        out[:, 1] = phase
        offset = (offset + BLOCK * 2 * np.pi * 220.0 / RATE) % (2 * np.pi)
        base[k] = time.perf_counter() - start
        if idle_s:
            time.sleep(idle_s)
    return summarise(times), summarise(base)


def live(minutes: float, realtime_jack: bool, period_frames: int) -> dict:
    from jack_testbed import ControlClient, attribute, jack_testbed, portaudio_jack_device

    from tidewell.audio.device import COMPUTE_RING, DeviceOutput
    from tidewell.core.clock import RealClock
    from tidewell.sensors.simulated import SimulatedHeart
    from tidewell.sessions.program import load_program, resolve_program
    from tidewell.sessions.runner import SessionRunner

    program = load_program(resolve_program("full_body_60")).scaled_to(minutes)
    with (
        tempfile.TemporaryDirectory(prefix="tidewell-audio-bench-") as folder,
        jack_testbed(Path(folder), realtime=realtime_jack, period_frames=period_frames) as server,
    ):
        output = DeviceOutput(device=portaudio_jack_device(), seed=0)
        engine_clients = sorted({port.split(":")[0] for port in server.wait_for_playback_ports()})
        control = ControlClient(server)
        runner = SessionRunner(program, SimulatedHeart(seed=0), unattended=True)
        machine = MachineWakeups()
        machine.start()
        clock = RealClock()
        collected, seen, events, advances, handovers = [], 0, [], [], []
        holder = type("Holder", (), {"state": None})()
        rendered, seen_renders = [], 0
        next_read, last_t, frames = 30.0, 0.0, 0
        wall_start = time.monotonic()
        try:
            while not runner.finished and clock.now() < minutes * 60.0:
                now = clock.now()
                state = runner.step(now)
                before = time.perf_counter()
                output.advance(state, now - last_t)
                between = time.perf_counter()
                holder.state = state  # baseline: handing the frame state over by reference, in-process
                advances.append(between - before)
                handovers.append(time.perf_counter() - between)
                last_t = now
                events += output.drain_events()
                frames += 1
                if now >= next_read:  # the ring keeps COMPUTE_RING blocks: read well before it wraps
                    stats = output.stats()
                    seen = _take_new(stats, seen, collected, COMPUTE_RING)
                    seen_renders = _take_new(stats, seen_renders, rendered, COMPUTE_RING, "render")
                    next_read += 30.0
                clock.sleep_until(now + 1.0 / 60.0)
            stats = output.stats()
            seen = _take_new(stats, seen, collected, COMPUTE_RING)
            seen_renders = _take_new(stats, seen_renders, rendered, COMPUTE_RING, "render")
        finally:
            output.close()
            control.stop()
            baseline = machine.stop(server.period_s)
        wall_s = time.monotonic() - wall_start
        xruns, xrun_lines = server.xruns(), server.xrun_lines()
        blame = attribute(server.xrun_events(), engine_clients, control.name)
    compute = np.concatenate(collected) if collected else np.zeros(1)
    render = np.concatenate(rendered) if rendered else np.zeros(1)
    return {
        "session_s": last_t,
        "wall_s": wall_s,
        "frames": frames,
        "callbacks": stats["callbacks"],
        "expected_callbacks": wall_s / server.period_s,
        "period_frames": server.period_frames,
        "machine": baseline,
        "block_frames": stats["block_frames"],
        "scheduling": stats["scheduling"],
        "status_flags": stats["status_flags"],
        "underruns": stats["underruns"],
        "losses": stats["losses"],
        "starved": stats["starved"],
        "renders": stats["renders"],
        "lead_ms": 1e3 * stats["lead_s"],
        "render": summarise(render),
        "jack_xruns_client": xruns["client"],
        "jack_late_cycles": xruns["late_cycles"],
        "jack_xrun_lines": xrun_lines,
        "xrun_events": blame,
        "engine_clients": engine_clients,
        "advance": summarise(np.asarray(advances)),
        "handover_baseline": summarise(np.asarray(handovers)),
        "events": events,
        "compute": summarise(compute, server.period_s),
    }


class MachineWakeups:
    """cyclictest (rt-tests) in the background: one SCHED_FIFO 80 thread in C, memory locked, woken
    every 2 ms; how late it wakes is what the machine alone adds to any audio thread's timing."""

    INTERVAL_US = 2000
    HISTOGRAM_US = 100_000

    def __init__(self):
        self.tool = shutil.which("cyclictest")
        self.process = None

    def start(self) -> None:
        if self.tool is None:
            return
        self.process = subprocess.Popen(
            [self.tool, "-m", "-q", "-p", "80", "-t", "1", "-i", str(self.INTERVAL_US), "-h", str(self.HISTOGRAM_US)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stop(self, period_s: float) -> dict:
        """Max latency, and wake-ups later than a quarter, half and a whole JACK period."""
        if self.process is None:
            return {"missing": "cyclictest not installed (apt-get install rt-tests): no machine baseline"}
        self.process.send_signal(2)
        out, err = self.process.communicate(timeout=30)
        late = np.zeros(self.HISTOGRAM_US + 1)
        wakeups, max_us, overflows = 0, 0, 0
        for line in out.splitlines():
            fields = line.split()
            if line.startswith("#"):
                if line.startswith("# Max Latencies"):
                    max_us = int(fields[-1])
                elif line.startswith("# Histogram Overflows"):
                    overflows = int(fields[-1])
                elif line.startswith("# Total"):
                    wakeups = int(fields[-1])
            elif len(fields) == 2 and fields[0].isdigit():
                late[int(fields[0])] = int(fields[1])
        if not wakeups:
            return {"missing": f"cyclictest printed no histogram: {err.strip()[-200:]}"}
        period_us = 1e6 * period_s
        over = {
            f"over_{name}": int(late[int(period_us * share) :].sum()) + overflows
            for name, share in (("quarter_period", 0.25), ("half_period", 0.5), ("period", 1.0))
        }
        return {"wakeups": wakeups, "max_ms": max_us / 1e3, **over}


def _take_new(stats: dict, seen: int, collected: list, ring: int, kind: str = "compute") -> int:
    count = stats["callbacks" if kind == "compute" else "renders"]
    new = count - seen
    if new > ring:
        print(f"  warning: {new - ring} {kind} times were overwritten before they were read", file=sys.stderr)
    kept = stats[f"{kind}_s"]
    collected.append(np.asarray(kept[-min(new, len(kept)) :]) if new > 0 else np.zeros(0))
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the live JACK run (default 10)")
    parser.add_argument(
        "--blocks", type=int, default=20000, help="blocks timed directly (default 20000 = 200 s of audio)"
    )
    parser.add_argument("--skip-jack", action="store_true", help="only the direct measurement")
    parser.add_argument(
        "--period-frames",
        type=int,
        default=1024,
        help="JACK period of the live run (default 1024 = 21 ms, jackd's and PipeWire's default; 480 = 10 ms)",
    )
    parser.add_argument(
        "--jack-no-realtime",
        action="store_true",
        help="run jackd without real-time scheduling, as the tests do (default: jackd -R, "
        "as an installed JACK runs; needs root or an rtprio limit)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    synth, base = direct(args.blocks)
    print(
        f"direct render_into, {BLOCK} frames stereo at {RATE} Hz ({1e3 * BLOCK_S:.0f} ms), every layer, {synth['blocks']} blocks:"
    )
    print(
        f"  synth:    p50 {synth['p50_ms']:.4f} ms  p99 {synth['p99_ms']:.4f} ms  max {synth['max_ms']:.3f} ms  "
        f"real-time factor p50 {synth['rtf_p50']:.0f}x  p99 {synth['rtf_p99']:.0f}x  (goal >= 50x at p99)"
    )
    print(f"  baseline: p50 {base['p50_ms']:.4f} ms  p99 {base['p99_ms']:.4f} ms  (numpy sine fill of the same block)")
    print(
        f"  synth / baseline: p50 {synth['p50_ms'] / base['p50_ms']:.1f}x  p99 {synth['p99_ms'] / base['p99_ms']:.1f}x"
    )
    results = {"direct": synth, "baseline": base}
    idle_blocks = min(args.blocks, 3000)
    paced, paced_base = direct(idle_blocks, idle_s=BLOCK_S - 0.0005)
    print(
        f"the same with {1e3 * BLOCK_S - 0.5:.1f} ms of sleep after each block, as a callback runs ({idle_blocks} blocks):"
    )
    print(
        f"  synth:    p50 {paced['p50_ms']:.4f} ms  p99 {paced['p99_ms']:.4f} ms  real-time factor p99 {paced['rtf_p99']:.0f}x;"
        f"  baseline p50 {paced_base['p50_ms']:.4f} ms  p99 {paced_base['p99_ms']:.4f} ms"
    )
    print(
        f"  slowdown from idle gaps: synth p50 {paced['p50_ms'] / synth['p50_ms']:.1f}x, "
        f"baseline p50 {paced_base['p50_ms'] / base['p50_ms']:.1f}x"
    )
    results["direct_paced"] = paced
    if not args.skip_jack:
        print(
            f"live: full_body_60 scaled to {args.minutes:g} min through DeviceOutput on a JACK dummy server "
            f"({args.period_frames}-frame periods, jackd {'without' if args.jack_no_realtime else 'with'} "
            "real-time scheduling)..."
        )
        run = live(args.minutes, realtime_jack=not args.jack_no_realtime, period_frames=args.period_frames)
        c = run["compute"]
        print(
            f"  {run['session_s']:.0f} s, {run['callbacks']} callbacks of {run['block_frames']} frames "
            f"(expected ~{run['expected_callbacks']:.0f}); frames {run['frames']}"
        )
        a, h = run["advance"], run["handover_baseline"]
        print(
            f"  advance() on the frame thread (controls into shared memory): p50 {1e3 * a['p50_ms']:.1f} us  "
            f"p99 {1e3 * a['p99_ms']:.1f} us  max {a['max_ms']:.3f} ms; baseline, same frames (a reference "
            f"stored in-process): p50 {1e3 * h['p50_ms']:.2f} us  p99 {1e3 * h['p99_ms']:.2f} us  max {h['max_ms']:.3f} ms; "
            f"ratio p50 {a['p50_ms'] / max(h['p50_ms'], 1e-9):.0f}x  p99 {a['p99_ms'] / max(h['p99_ms'], 1e-9):.0f}x"
        )
        print(f"  audio process: {run['scheduling']}")
        print(
            f"  callback compute (stats()): p50 {c['p50_ms']:.4f} ms  p99 {c['p99_ms']:.4f} ms  max {c['max_ms']:.3f} ms  "
            f"real-time factor p50 {c['rtf_p50']:.0f}x  p99 {c['rtf_p99']:.0f}x"
        )
        r = run["render"]
        print(
            f"  render ahead ({run['lead_ms']:.0f} ms lead, {run['renders']} blocks): p50 {r['p50_ms']:.4f} ms  "
            f"p99 {r['p99_ms']:.4f} ms  max {r['max_ms']:.3f} ms; callbacks left short by the render process: {run['starved']}"
        )
        print(
            f"  underruns: callback status flags {run['status_flags']} (output underflow {run['underruns']}), "
            f"jackd client xruns {run['jack_xruns_client']}, jackd late driver wake-ups {run['jack_late_cycles']}; "
            f"device losses {run['losses']}  (goal: zero)"
        )
        for line in run["jack_xrun_lines"][:20]:
            print(f"    jackd: {line.strip()}")
        blame = run["xrun_events"]
        print(
            f"  xrun events {blame['events']}: the engine's client ({', '.join(run['engine_clients'])}) alone late "
            f"{blame['engine']} (goal: zero); the machine (jackd's driver late, or the C control client late too) "
            f"{blame['machine']}; other clients {blame['other']}"
        )
        m = run["machine"]
        if "missing" in m:
            print(f"  machine baseline: {m['missing']}")
        else:
            print(
                f"  machine baseline, same run (cyclictest, a C thread at SCHED_FIFO 80 woken every 2 ms, {m['wakeups']} wake-ups): "
                f"latest {m['max_ms']:.2f} ms; later than 1/4 period {m['over_quarter_period']}, "
                f"1/2 period {m['over_half_period']}, a whole period {m['over_period']}"
            )
        results["live"] = run
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    ok = synth["rtf_p99"] >= 50 and (
        args.skip_jack or (results["live"]["xrun_events"]["engine"] == 0 and results["live"]["starved"] == 0)
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
