"""A client's trend, course summary and PDF course report over many long sessions, cold and warm.

    python benchmarks/course_trend.py [--sessions 100] [--minutes 60] [--rounds 3] [--keep FOLDER]

Builds its own session log in a temporary folder (or FOLDER): one client, --sessions sessions of the
full_body_60 program stretched or shortened to --minutes, each logged as a session is (through the
store's own SessionWriter): its phases and their events, every beat of a simulated heart that follows
a guide breathing at each phase's rate (sensors/simulated.py), run through the Kubios-style corrector
(sensors/correction.py), 4 Hz samples, pain and stress before and after; an intake and a plan. Nothing
is analysed while building, as in a log written before the metrics were stored.

Then, in the same run, each reader (the client trend: report.trends.client_overview; the course
summary: sessions.course.course; the PDF course report: course_report + course_pdf):
- cold: the first read, which computes every session's metrics (sessions/hrv.py) and stores them
  (sessions/session_metrics.py). The trend's cold run is the log's very first read; for the other two
  the stored rows are first made stale by giving METRICS_VERSION another value, as a new analysis does;
- warm: the same read again, every session's metrics read from the stored rows (best of --rounds).
Prints seconds and the warm/cold ratio. Goal: warm <= 5 s for 100 sessions of 60 minutes.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from tidewell.core.frame_state import BreathStage, FrameState
from tidewell.sensors.correction import correct_series
from tidewell.sensors.simulated import SimulatedHeart
from tidewell.sessions import session_metrics as cache
from tidewell.sessions.course import course
from tidewell.sessions.course_report import course_pdf, course_report
from tidewell.sessions.program import load_program, resolve_program
from tidewell.sessions.report.trends import client_overview
from tidewell.sessions.store import SessionStore

CLIENT = "C-BENCH"
SAMPLE_S = 0.25  # the log's 4 Hz samples


def breath_level(t_s: float, rate_bpm: float) -> float:
    return 0.5 - 0.5 * math.cos(2 * math.pi * rate_bpm / 60.0 * t_s)


def heart_of(seed: int) -> SimulatedHeart:
    rng = np.random.default_rng(seed)
    return SimulatedHeart(seed=seed, start_hr=float(rng.uniform(70, 82)), relaxed_hr=float(rng.uniform(58, 66)))


def corrected_beats(program, seed: int) -> list:
    """The session's beats: its simulated heart polled at 4 Hz as the guide breathes, then corrected."""
    heart, raw, t, start = heart_of(seed), [], 0.0, 0.0
    for phase in program.phases:
        end = start + phase.duration_s
        while t < end:
            raw += heart.poll(t, breath_level(t, phase.breathing.rate_bpm))
            t += SAMPLE_S
        start = end
    return correct_series([b.t_s for b in raw], [b.rr_ms for b in raw])


def log_session(store: SessionStore, program, seed: int, beats: list) -> int:
    """One session as the engine logs it (phases, events, corrected beats, 4 Hz samples), without playing it."""
    sid = store.begin(
        program_id=program.id,
        program_title=program.title,
        program_minutes=program.minutes,
        client=CLIENT,
        sensor="sim",
        virtual_time=True,
        seed=seed,
        target="screen",
    )
    rng = np.random.default_rng(seed + 1_000_000)
    writer = store.writer(sid)
    t, start, heard = 0.0, 0.0, 0
    for index, phase in enumerate(program.phases):
        writer.phase_start(index, phase, start)
        writer.event(start, "phase_start", phase.name, index)
        end, rate_hz = start + phase.duration_s, phase.breathing.rate_bpm / 60.0
        while t < end:
            level = breath_level(t, phase.breathing.rate_bpm)
            while heard < len(beats) and beats[heard].t_s <= t:
                heard += 1
            calm = min(1.0, t / 1200.0)
            writer.sample(
                FrameState(
                    t_s=t,
                    phase_index=index,
                    phase_name=phase.name,
                    phase_elapsed_s=t - start,
                    phase_progress=(t - start) / phase.duration_s,
                    breath_phase=(rate_hz * t) % 1.0,
                    breath_stage=BreathStage.INHALE if (rate_hz * t) % 1.0 < 0.4 else BreathStage.EXHALE,
                    breath_level=level,
                    pace_bpm=phase.breathing.rate_bpm,
                    calm=calm,
                    posture=phase.posture,
                    scene=phase.scene,
                    previous_scene=None,
                    crossfade=1.0,
                    fade=1.0,
                    hr_bpm=60000.0 / beats[heard - 1].rr_ms if heard else None,
                )
            )
            t += SAMPLE_S
        writer.phase_end(index, end)
        writer.event(end, "phase_end", phase.name, index)
        start = end
    writer.beats(beats)
    writer.close("completed")
    store.set_self_report(sid, "before", int(rng.integers(3, 8)), int(rng.integers(3, 8)))
    store.set_self_report(sid, "after", int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    return sid


def build(db: Path, sessions: int, minutes: float) -> SessionStore:
    store = SessionStore(db)
    program = load_program(resolve_program("full_body_60"))
    program = program if math.isclose(program.minutes, minutes) else program.scaled_to(minutes)
    store.set_intake(CLIENT, [], ["less neck pain"], "Dr. Bench")
    store.set_plan(CLIENT, sessions_planned=min(sessions, 100), per_week=2, programs=[program.id], reassess_every=4)
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:  # the beats; the log written here
        for n, beats in enumerate(pool.map(corrected_beats, [program] * sessions, range(sessions))):
            log_session(store, program, n, beats)
            print(f"\rbuilt {n + 1}/{sessions} sessions", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    print(f"log: {sessions} sessions of {minutes:g} min built in {time.perf_counter() - started:.1f} s, {db}")
    return store


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=3, help="warm runs of each reader (best taken)")
    parser.add_argument("--keep", type=Path, help="build the log in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tidewell-course-trend-") as scratch:
        folder = args.keep or Path(scratch)
        store = build(folder / "tidewell.db", args.sessions, args.minutes)
        readers = {
            "client trend (client_overview)": lambda: client_overview(store, CLIENT, progress=False),
            "course summary (course)": lambda: course(store, CLIENT),
            "PDF course report (course_report + course_pdf)": lambda: course_pdf(course_report(store, CLIENT)),
        }
        stored_version, per_session = cache.METRICS_VERSION, 0.0
        print(f"METRICS_VERSION {stored_version}")
        print(f"{'reader':<48} {'cold s':>8} {'warm s':>8} {'warm/cold':>9}")
        for number, (name, read) in enumerate(readers.items()):
            if number:  # every stored row made stale: the first read computes and stores them all again
                cache.METRICS_VERSION = f"{stored_version}-bench{number}"
            cold = timed(read)
            warm = min(timed(read) for _ in range(max(1, args.rounds)))
            print(f"{name:<48} {cold:>8.2f} {warm:>8.2f} {warm / cold:>9.3f}")
            per_session = per_session or cold / args.sessions
        cache.METRICS_VERSION = stored_version
        print(f"computing and storing one session's metrics (what the end of a session adds): {per_session:.3f} s")
        first_id = store.sessions_of_client(CLIENT)[0]["id"]
        first = cache.session_metrics(store, first_id).hrv.whole
        print(
            f"session {first_id}: {first.n_beats} NN beats, HR {first.mean_hr_bpm:.1f} bpm, SDNN {first.sdnn_ms:.1f} ms,"
            f" RMSSD {first.rmssd_ms:.1f} ms, artifacts {first.artifact_pct:.2f} %"
        )
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
