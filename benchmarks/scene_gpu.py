"""GPU time per stereo frame for every shipped scene.

    python benchmarks/scene_gpu.py [--size 2064x2208] [--frames 120] [--backend egl|egl-glvnd]

Each frame draws the left and the right eye (±32 mm) for a SIZE-per-eye swapchain, each scene at
its render scale, plus the engine's comfort pass (measure + exposure copy), as a headset frame
does: the exposure pass writes the render-scale rectangle that the headset's compositor scales
(engine/xr/target.py submits it as the layer's imageRect). GPU time comes from GL timer queries
(GL_TIME_ELAPSED) around the whole stereo frame; the median and p90 are printed per scene and
posture, with a bare clear of both full-size eyes as the baseline. Beside it: the same frame as a
desktop window draws it (the exposure pass scales up to the full size), and the scene alone. Goal on an H100-class
GPU at 2064x2208 per eye (Quest 3): <= 5.5 ms, half the 90 Hz budget. Without a GPU (llvmpipe),
run it at a small size and read the numbers as relative only.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import statistics
import sys

import moderngl
import numpy as np

IPD_M = 0.064


def _context(backend: str) -> moderngl.Context:
    if backend == "egl-glvnd":
        return moderngl.create_context(standalone=True, backend="egl", libgl="libOpenGL.so.0", libegl="libEGL.so.1")
    return moderngl.create_context(standalone=True, backend="egl")


def _state(scene: str, posture, t: float):
    from tidewell.core.frame_state import BreathStage, FrameState

    return FrameState(
        t_s=t,
        phase_index=0,
        phase_name="bench",
        phase_elapsed_s=t,
        phase_progress=0.5,
        breath_phase=(t / 10) % 1,
        breath_stage=BreathStage.INHALE,
        breath_level=0.5 - 0.5 * math.cos(2 * math.pi * t / 10),
        pace_bpm=6.0,
        calm=0.6,
        posture=posture,
        scene=scene,
        previous_scene=None,
        crossfade=1.0,
        fade=1.0,
    )


def time_frames(ctx, draw, frames: int) -> list[float]:
    query = ctx.query(time=True)
    times = []
    for i in range(frames):
        with query:
            draw(i)
        ctx.finish()
        times.append(query.elapsed / 1e6)  # ns -> ms
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="2064x2208")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--backend", choices=("egl", "egl-glvnd"), default="egl")
    parser.add_argument(
        "--render-scale", type=float, help="draw every scene at this render scale instead of its own (to choose one)"
    )
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))

    from tidewell.engine.render.comfort import GuardedFrame
    from tidewell.engine.render.scene_renderer import SceneRenderer
    from tidewell.scenes.catalog import available_scenes

    ctx = _context(args.backend)
    print(f"renderer: {ctx.info['GL_RENDERER']}; {size[0]}x{size[1]} per eye, stereo; {args.frames} frames")
    eyes = [ctx.framebuffer(color_attachments=[ctx.texture(size, 4)]) for _ in range(2)]
    renderer = SceneRenderer(ctx)
    comforts = [GuardedFrame(ctx), GuardedFrame(ctx)]

    def bare(i):
        for fbo in eyes:
            fbo.use()
            fbo.clear(0.1, 0.1, 0.1, 1.0)

    baseline = time_frames(ctx, bare, args.frames)
    print(f"{'baseline: clear both eyes':<40} median {statistics.median(baseline):7.3f} ms")
    print(f"{'':<40} {'headset':>15} {'(p90)':>9} {'window':>9} {'scene alone':>12}")
    worst = 0.0
    for scene in available_scenes().values():
        if args.render_scale:
            scene = dataclasses.replace(scene, render_scale=args.render_scale)
            renderer.set_scene(scene)
        inner = tuple(max(1, round(v * scene.render_scale)) for v in size)
        alone = [ctx.framebuffer(color_attachments=[ctx.texture(inner, 4)]) for _ in range(2)]
        for posture in scene.postures:

            def draw(i, upscale, scene=scene, posture=posture):
                state = _state(scene.id, posture, 10.0 + i / 90.0)
                for eye, (fbo, comfort) in enumerate(zip(eyes, comforts)):
                    offset = (-0.5 if eye == 0 else 0.5) * IPD_M
                    comfort.render(_Eye(renderer, offset), state, fbo, size, upscale=upscale)

            def draw_alone(i, scene=scene, posture=posture, alone=alone, inner=inner):
                state = _state(scene.id, posture, 10.0 + i / 90.0)
                for eye, fbo in enumerate(alone):
                    renderer.render(state, fbo, inner, eye_offset_m=(-0.5 if eye == 0 else 0.5) * IPD_M)

            times = {}
            for name, frame in (
                ("headset", lambda i: draw(i, False)),
                ("window", lambda i: draw(i, True)),
                ("alone", draw_alone),
            ):
                time_frames(ctx, frame, 5)  # compile and warm up
                times[name] = time_frames(ctx, frame, args.frames)
            median = statistics.median(times["headset"])
            worst = max(worst, median)
            verdict = "ok" if median <= 5.5 else "over"
            label = f"{scene.id} ({posture.value}, x{scene.render_scale:g})"
            print(
                f"{label:<40} {median:9.3f} ms {np.percentile(times['headset'], 90):6.3f} ms "
                f"{statistics.median(times['window']):6.3f} ms {statistics.median(times['alone']):9.3f} ms  {verdict}"
            )
        for fbo in alone:
            fbo.color_attachments[0].release()
            fbo.release()
    print(f"slowest scene: {worst:.3f} ms per stereo headset frame (goal <= 5.5 ms on an H100-class GPU)")
    return 0


class _Eye:
    """SceneRenderer with this eye's offset, in the shape GuardedFrame calls."""

    def __init__(self, renderer, offset_m: float):
        self.renderer, self.offset_m = renderer, offset_m

    def render(self, state, fbo, size, eye=None):
        self.renderer.render(state, fbo, size, eye_offset_m=self.offset_m)

    def render_scale(self, state):
        return self.renderer.render_scale(state)


if __name__ == "__main__":
    sys.exit(main())
