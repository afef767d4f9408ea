"""A headset session in a process of its own, reporting as JSON lines (tests/xr, benchmarks/xr_frame.py).

    python xr_session_child.py --out DIR [--program ID] [--minutes N] [--capture-at S ...] [--mirror]
                               [--sound-when-off continue|fade] [--scene SCENE] [--spectrum worker|inline]

Lines on stdout: {"progress": {...}} twice a second of session time, {"captured": {...}} when the
eyes (and the mirror) were saved as PNGs at a --capture-at time, {"result": {...}} at the end.
The data folder comes from TIDEWELL_DATA_DIR. Ctrl-C (SIGINT) stops the session as at a terminal.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from PIL import Image


def say_json(**message) -> None:
    sys.stdout.write(json.dumps(message, default=str) + "\n")
    sys.stdout.flush()


def main() -> int:
    from tidewell.engine.session import RunOptions, run_session
    from tidewell.sessions.program import load_program, resolve_program

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--program", default="taster")
    parser.add_argument("--minutes", type=float, default=0.3)
    parser.add_argument("--capture-at", type=float, action="append", default=[])
    parser.add_argument("--mirror", action="store_true")
    parser.add_argument("--sound-when-off", default="continue")
    parser.add_argument("--scene", help="show this scene in every phase")
    parser.add_argument("--audio-device", help="a sound device (default: the system's, else a WAV file)")
    parser.add_argument(
        "--spectrum",
        choices=("worker", "inline"),
        default="worker",
        help="the 5-s HRV spectrum on a worker thread (as sessions run) or on the frame thread",
    )
    parser.add_argument("--live-view", action="store_true", help="the console's live view of the left eye, on")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    program = load_program(resolve_program(args.program)).scaled_to(args.minutes)
    if args.scene:
        program = replace(program, phases=tuple(replace(p, scene=args.scene) for p in program.phases))
    headset = {}
    captures = sorted(args.capture_at)
    next_progress = [0.0]
    # Where in target.engine_s the frames that reached a 5-s mark from 30 s on will be measured: the
    # frames whose runner step recomputes the live HRV spectrum (inline) or hands it to its worker.
    spectrum_frames, last_t = [], [0.0]

    def on_frame(state) -> None:
        target = headset.get("target")
        if target is None:
            return
        if state.t_s >= 30.0 and math.floor(state.t_s / 5.0) > math.floor(last_t[0] / 5.0):
            spectrum_frames.append(len(target.engine_s))  # measured at the next frame's start
        last_t[0] = state.t_s
        if state.t_s >= next_progress[0]:
            next_progress[0] += 0.5
            say_json(
                progress={
                    "t_s": state.t_s,
                    "frames": target.frames,
                    "missed": target.missed,
                    "state": target.state,
                    "paused": state.paused,
                    "fade": state.fade,
                }
            )
        # Eyes are read back only around a capture: a read-back every frame would slow the frames.
        target.capture = bool(captures) and state.t_s >= captures[0] - 0.5
        if target.mirror is not None:
            target.mirror.capture = target.capture
        if captures and state.t_s >= captures[0] and target.read_eye(0) is not None:
            at = captures.pop(0)
            names = {}
            for index, side in enumerate(("left", "right")):
                path = args.out / f"eye-{side}-{at:g}.png"
                Image.fromarray(target.read_eye(index)).save(path)
                names[side] = str(path)
            if target.mirror is not None and target.mirror.last_image is not None:
                path = args.out / f"mirror-{at:g}.png"
                Image.fromarray(target.mirror.last_image).save(path)
                names["mirror"] = str(path)
            say_json(
                captured={
                    "at": at,
                    "t_s": state.t_s,
                    "scene": state.scene,
                    "posture": state.posture.value,
                    "files": names,
                }
            )

    def on_headset(target) -> None:
        headset["target"] = target
        if args.live_view:  # as a console session attaches it (engine/console/live_preview.py)
            from tidewell.engine.console.live_preview import SessionLiveView

            images = iter(range(10**6))  # each image kept: the session fades in and out of dark
            keep = lambda jpeg: (args.out / f"live-{next(images):04d}.jpg").write_bytes(jpeg)  # noqa: E731
            SessionLiveView(keep, "xr", headless=True).attach_headset(target)

    options = RunOptions(
        target="xr",
        mirror=args.mirror,
        on_frame=on_frame,
        on_headset=on_headset,
        sound_when_headset_off=args.sound_when_off,
        audio_device=args.audio_device,
        spectrum_worker=args.spectrum == "worker",
        say=lambda text: print(text, flush=True),
    )
    result = run_session(program, options)
    target = headset["target"]
    engine_ms = [1e3 * s for s in list(target.engine_s)[10:]]  # the first frames compile shaders
    cpu_ms = [1e3 * s for s in list(target.engine_cpu_s)[10:]]
    gl_ms = [1e3 * s for s in list(target.gl_s)[10:]]
    say_json(
        result={
            "session_id": result.session_id,
            "status": result.status,
            "session_s": result.simulated_s,
            "frames": target.frames,
            "missed": target.missed,
            "missed_at": target.missed_at,
            "missed_by_engine": target.missed_by_engine,
            "recenters": target.body.recenters,
            "color_format": target.color_format,
            "eye_size": list(target._swapchains[0].size),
            "image_rects": [list(rect) for rect in target.image_rects],
            "engine_ms_median": statistics.median(engine_ms) if engine_ms else None,
            "engine_ms_p99": sorted(engine_ms)[int(0.99 * (len(engine_ms) - 1))] if engine_ms else None,
            "engine_cpu_ms_median": statistics.median(cpu_ms) if cpu_ms else None,
            "gl_ms_median": statistics.median(gl_ms) if gl_ms else None,
            "engine_ms_max": max(engine_ms, default=None),
            "gl_ms_max": max(gl_ms, default=None),
            "spectrum_frames_ms": [1e3 * target.engine_s[i] for i in spectrum_frames if i < len(target.engine_s)],
            "lost": target.lost,
            "mirror_frames": target.mirror.shown if target.mirror is not None else 0,
            "folder": str(result.folder),
            "live_view": _live_view_figures(target.live_view),
        }
    )
    return 0 if result.status != "interrupted" else 130


def _live_view_figures(live) -> dict | None:
    if live is None:
        return None
    return {
        "images": live.images,
        "reads": live.reads,
        "offer_ms_mean": 1e3 * live.offer_s / max(live._offers, 1),
        "offer_ms_max": 1e3 * live.offer_max_s,
        "problems": live.problems,
    }


if __name__ == "__main__":
    sys.exit(main())
