"""Engine per-frame cost against a bare moderngl loop drawing the same scene, in one run.

    python benchmarks/frame_overhead.py [--size 640x360] [--frames 120] [--rounds 5]

The bare loop sets the scene's uniforms and draws; the engine loop does what a live session
does each frame: runner.step (heart, metrics, calm, breathing guide), the log's sample queue,
the audio reference swap and SceneRenderer.render. Rounds alternate A/B so machine noise hits
both alike; medians of per-frame times and their ratio are printed. Goal: ratio <= 1.10.
It then times a virtual-time run of the 60-minute program (logic, audio to WAV, log and one
offscreen frame per phase).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import moderngl
import numpy as np

SCENE = "sea_floor"  # what full_body_60's warm-up phase shows, face-down


def _context(backend: str) -> moderngl.Context:
    if backend == "egl-glvnd":  # a GPU machine with glvnd's EGL carried along
        return moderngl.create_context(standalone=True, backend="egl", libgl="libOpenGL.so.0", libegl="libEGL.so.1")
    return moderngl.create_context(standalone=True, backend="egl")


def bare_loop(ctx, fbo, size, frames: int) -> list[float]:
    from tidewell.core.frame_state import Posture
    from tidewell.engine.render import camera
    from tidewell.scenes.catalog import FULLSCREEN_VERTEX_PATH, available_scenes

    scene = available_scenes()[SCENE]
    program = ctx.program(
        vertex_shader=FULLSCREEN_VERTEX_PATH.read_text(), fragment_shader=scene.fragment_path.read_text()
    )
    vao = ctx.vertex_array(program, [])
    view, proj = camera.view_projection(Posture.PRONE, aspect=size[0] / size[1])
    forward, up = camera.rest_axes(Posture.PRONE)
    fixed = {
        "u_inv_view_proj": np.linalg.inv(proj.astype(np.float64) @ view).astype("f4").T.tobytes(),
        "u_eye_pos": tuple(float(v) for v in camera.eye_position(Posture.PRONE)),
        "u_head_pos": tuple(float(v) for v in camera.eye_position(Posture.PRONE)),
        "u_rest_forward": tuple(float(v) for v in forward),
        "u_rest_up": tuple(float(v) for v in up),
        "u_resolution": (float(size[0]), float(size[1])),
        "u_calm": 0.5,
        "u_fade": 1.0,
    }
    for name, value in fixed.items():
        if name in program:
            if isinstance(value, bytes):
                program[name].write(value)
            else:
                program[name].value = value
    times = []
    for i in range(frames):
        start = time.perf_counter()
        t = i / 60.0
        program["u_time"].value = t
        program["u_breath"].value = 0.5 - 0.5 * np.cos(2 * np.pi * t / 10.0)
        fbo.use()
        vao.render(moderngl.TRIANGLES, vertices=3)
        ctx.finish()
        times.append(time.perf_counter() - start)
    vao.release()
    program.release()
    return times


def engine_loop(ctx, fbo, size, frames: int, store) -> list[float]:
    from tidewell.engine.render.scene_renderer import SceneRenderer
    from tidewell.sensors.simulated import SimulatedHeart
    from tidewell.sessions.program import load_program, resolve_program
    from tidewell.sessions.runner import SessionRunner

    program = load_program(resolve_program("full_body_60"))
    runner = SessionRunner(program, SimulatedHeart(), unattended=True)
    for second in range(400):  # into the warm-up phase: SCENE, prone, as in the bare loop
        runner.step(float(second))
    assert runner.phase.scene == SCENE and runner.phase.posture.value == "prone"
    renderer = SceneRenderer(ctx)
    session_id = store.begin(
        program_id="bench",
        program_title="bench",
        program_minutes=60,
        client="bench",
        sensor="sim",
        virtual_time=True,
        seed=0,
    )
    writer = store.writer(session_id)
    latest = [None]  # the audio callback's reference, swapped each frame
    times = []
    for i in range(frames):
        start = time.perf_counter()
        state = runner.step(400.0 + i / 60.0)
        writer.beats(runner.drain_beats())
        runner.drain_events()
        if i % 15 == 0:
            writer.sample(state)
        latest[0] = state
        renderer.render(state, fbo, size)
        ctx.finish()
        times.append(time.perf_counter() - start)
    writer.close("completed")
    renderer.release()
    return times


def virtual_hour() -> float:
    from tidewell.engine.session import RunOptions, run_session
    from tidewell.sessions.program import load_program, resolve_program
    from tidewell.sessions.store import SessionStore

    with tempfile.TemporaryDirectory() as folder:
        os.environ["TIDEWELL_DATA_DIR"] = folder
        store = SessionStore(Path(folder) / "tidewell.db")
        program = load_program(resolve_program("full_body_60"))
        start = time.perf_counter()
        result = run_session(program, RunOptions(virtual_time=True, headless=True, say=lambda _: None), store)
        elapsed = time.perf_counter() - start
        assert result.status == "completed", result.status
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--backend", choices=("egl", "egl-glvnd"), default="egl")
    parser.add_argument("--skip-virtual-hour", action="store_true")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))

    from tidewell.sessions.store import SessionStore

    ctx = _context(args.backend)
    print(f"renderer: {ctx.info['GL_RENDERER']}; {size[0]}x{size[1]}; {args.frames} frames x {args.rounds} rounds")
    fbo = ctx.framebuffer(color_attachments=[ctx.texture(size, 4)])
    with tempfile.TemporaryDirectory() as folder:
        store = SessionStore(Path(folder) / "bench.db")
        bare_loop(ctx, fbo, size, 10)  # warm up both paths (shader compile, driver caches)
        engine_loop(ctx, fbo, size, 10, store)
        bare, engine = [], []
        for _ in range(args.rounds):
            bare += bare_loop(ctx, fbo, size, args.frames)
            engine += engine_loop(ctx, fbo, size, args.frames, store)
    bare_ms = statistics.median(bare) * 1000
    engine_ms = statistics.median(engine) * 1000
    ratio = engine_ms / bare_ms
    print(f"bare moderngl loop : median {bare_ms:8.3f} ms/frame  p90 {np.percentile(bare, 90) * 1000:8.3f}")
    print(f"tidewell engine    : median {engine_ms:8.3f} ms/frame  p90 {np.percentile(engine, 90) * 1000:8.3f}")
    print(f"engine / bare ratio: {ratio:.3f}  (goal <= 1.10)  overhead {engine_ms - bare_ms:+.3f} ms/frame")
    if not args.skip_virtual_hour:
        seconds = virtual_hour()
        print(
            f"virtual-time 60-min program (logic, WAV, log, contact sheet): {seconds:.1f} s"
            f"  = {3600 / seconds:.0f}x real time"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
