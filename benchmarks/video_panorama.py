"""Panorama video: does the decode thread keep up, and what does a video scene cost the frame loop?

    python benchmarks/video_panorama.py [--seconds 10] [--video FILE] [--size 960x960] [--hz 72]
                                        [--run-seconds 5] [--rounds 3] [--shader dusk_ocean]

Without --video it encodes its own 4K (3840x1920) 30 fps H.264 equirectangular video (libx264,
yuv420p, CABAC and deblocking on like camera footage) into a temp folder: a smooth field, two
layers of fine noise drifting in different directions (so the decoder has real residuals to
decode, not one translation) and a bright marker drifting round the world.

1. Decode keep-up: a VideoDecoder alone, its frames taken on the wall clock at the video's rate
   for --keepup-seconds (default: the video twice, across the loop's seek): frames dropped per
   minute and ticks that found no new frame. Then decode time per frame: PyAV with the decoder's
   settings (thread_type AUTO, planes copied out with to_ndarray) decoding the file as fast as it
   can, against `ffmpeg -threads 0 -i FILE -f null -` in the same run (wall time, and its
   -benchmark utime); ratio PyAV/ffmpeg. Goal: nothing dropped.
2. Frame loop: an OffscreenTarget as a live session has it (comfort guard on, wait_for_video False:
   the frame loop never waits on the decoder) at one headset-like eye of --size, paced by the
   wall clock at --hz (a frame that overruns its tick is not made up for). Engine time per frame
   = the panorama media's update + target.render + ctx.finish(): no pixels are read back, but
   the finish waits for the GL work (on llvmpipe, the CPU's) so that each frame pays for its own
   drawing. Cases, in alternating runs so machine noise hits all alike: (a) the video panorama,
   (b) a built-in shader scene, (c) a still 4K panorama (a photo). The media's update (strip
   uploads into the plane set not shown, then mipmaps and the swap) is timed on its own by calling
   it just before render (the renderer skips a second update at the same t_s); then a short extra
   video run splits it into uploads and mipmaps (a finish after each, so the GL work lands in its
   part). YUV->RGB happens per drawn pixel in panorama.frag, inside the scene's draw.
   Goal (issue 18): video p99 <= 1.2x the shader scene's.
Machines are noisy: compare the ratios of one run, not absolute times across runs. Without a GPU
(llvmpipe) the GL work runs on the same CPU cores as the decoder.
"""

from __future__ import annotations

import argparse
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTH, HEIGHT, FPS = 3840, 1920, 30


def _y_field(width: int, height: int) -> np.ndarray:
    yaw = np.linspace(-np.pi, np.pi, width, endpoint=False, dtype=np.float32)
    elevation = np.linspace(np.pi / 2, -np.pi / 2, height, dtype=np.float32)
    field = 110 + 50 * np.sin(elevation)[:, None] + 25 * np.cos(elevation)[:, None] * np.cos(2 * yaw)[None, :]
    return field.astype(np.uint8)


def _noise(rng, width: int, height: int, amplitude: int, block: int) -> np.ndarray:
    coarse = rng.integers(0, amplitude, (height // block, width // block), dtype=np.uint8)
    return np.repeat(np.repeat(coarse, block, axis=0), block, axis=1)


def encode_video(path: Path, seconds: float, preset: str, crf: int) -> Path:
    """A 4K equirectangular yuv420p H.264 video with motion and detail everywhere."""
    import av

    rng = np.random.default_rng(18)
    base = _y_field(WIDTH, HEIGHT)
    fine, grain = _noise(rng, WIDTH, HEIGHT, 28, 2), _noise(rng, WIDTH, HEIGHT, 14, 4)
    cu = np.tile(np.linspace(100, 156, WIDTH // 2, dtype=np.float32).astype(np.uint8), (HEIGHT // 2, 1))
    cv = np.ascontiguousarray(cu[:, ::-1])
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.options = {"preset": preset, "crf": str(crf), "x264-params": "cabac=1:deblock=1,0:keyint=60"}
        planes = np.empty((HEIGHT * 3 // 2, WIDTH), dtype=np.uint8)
        for index in range(int(seconds * FPS)):
            y = planes[:HEIGHT]
            np.add(base, np.roll(fine, 3 * index, axis=1), out=y)
            y += np.roll(grain, index, axis=0)
            x = (index * 12) % (WIDTH - 160)  # the marker drifts round the world
            y[HEIGHT // 2 - 80 : HEIGHT // 2 + 80, x : x + 160] = 235
            planes[HEIGHT : HEIGHT + HEIGHT // 4] = cu.reshape(HEIGHT // 4, WIDTH)
            planes[HEIGHT + HEIGHT // 4 :] = cv.reshape(HEIGHT // 4, WIDTH)
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = index
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def keep_up(path: Path, seconds: float) -> dict:
    """A VideoDecoder's frames taken on the wall clock at its rate, as the frame loop would. A tick
    is late when the frame on screen is older than the one due (the decoder is behind)."""
    from tidewell.engine.render.video_decoder import VideoDecoder

    decoder = VideoDecoder(path, max_size=16384)
    try:
        shown = decoder.first_frame()
        period = 1.0 / decoder.fps
        ticks = int(seconds * decoder.fps)
        late, woke_late, lag = 0, 0, []
        start = time.perf_counter()
        for index in range(ticks):
            time.sleep(max(0.0, start + (index + 0.5) * period - time.perf_counter()))  # mid-frame
            media_t = time.perf_counter() - start
            woke_late += media_t > (index + 1.0) * period  # the machine, not the decoder, was late
            shown = decoder.take(media_t) or shown
            late += shown.t_s < np.floor(media_t * decoder.fps) * period - 0.5 * period
            lag.append(media_t - shown.t_s)
        minutes = (time.perf_counter() - start) / 60.0
        hardware = f"hwaccel {decoder.hardware} (software fallback allowed)" if decoder.hardware else "software"
        return dict(hardware=hardware, seconds=minutes * 60, ticks=ticks, dropped=decoder.dropped, late=late,
                    woke_late=woke_late, dropped_per_min=decoder.dropped / minutes, late_per_min=late / minutes,
                    lag_p99_ms=float(np.percentile(lag, 99)) * 1000, lag_end_ms=lag[-1] * 1000)  # fmt: skip
    finally:
        decoder.close()


def pyav_decode(path: Path) -> dict:
    """The file decoded as fast as PyAV goes with the VideoDecoder's settings; per-frame times."""
    import av

    decode, copy = [], []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = container.decode(stream)
        start, cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF).ru_utime
        while True:
            before = time.perf_counter()
            frame = next(frames, None)
            if frame is None:
                break
            middle = time.perf_counter()
            frame.to_ndarray()
            decode.append(middle - before)
            copy.append(time.perf_counter() - middle)
        total, cpu = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu
    return {"frames": len(decode), "total_s": total, "utime_s": cpu, "decode": np.array(decode), "copy": np.array(copy)}


def ffmpeg_decode(path: Path) -> dict:
    command = ["ffmpeg", "-hide_banner", "-nostats", "-benchmark", "-threads", "0", "-i", str(path), "-f", "null", "-"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    found = re.search(r"utime=([\d.]+)s stime=([\d.]+)s rtime=([\d.]+)s", result.stdout + result.stderr)
    frames = re.findall(r"frame=\s*(\d+)", result.stdout + result.stderr)
    utime, stime, rtime = (float(v) for v in found.groups()) if found else (float("nan"),) * 3
    return {
        "wall_s": wall,
        "utime_s": utime,
        "stime_s": stime,
        "rtime_s": rtime,
        "frames": int(frames[-1]) if frames else 0,
    }


def print_decode(stats: dict, pyav: list[dict], ffmpeg: list[dict], frames: int) -> dict:
    per_frame = lambda s: s * 1000 / frames  # noqa: E731
    pyav_ms = min(per_frame(r["total_s"]) for r in pyav)
    decode_ms = min(per_frame(r["decode"].sum()) for r in pyav)
    every = np.concatenate([r["decode"] + r["copy"] for r in pyav]) * 1000
    ffmpeg_ms = min(per_frame(r["wall_s"]) for r in ffmpeg)
    print(
        f"keep-up ({stats['hardware']} decode, {stats['seconds']:.1f} s on the wall clock, {stats['ticks']} ticks): "
        f"dropped {stats['dropped']} ({stats['dropped_per_min']:.1f}/min), late ticks {stats['late']} "
        f"({stats['late_per_min']:.0f}/min), ticks the machine woke late {stats['woke_late']}; frame on screen behind the clock p99 {stats['lag_p99_ms']:.0f} ms, "
        f"at the end {stats['lag_end_ms']:.0f} ms (in time: < {1000 / FPS:.0f} ms)"
    )
    print(
        f"PyAV decode+to_ndarray: {pyav_ms:.2f} ms/frame (decode alone {decode_ms:.2f}; "
        f"per frame, all runs: mean {every.mean():.2f} p99 {np.percentile(every, 99):.2f} ms; best of {len(pyav)}; "
        f"utime {min(per_frame(r['utime_s']) for r in pyav):.2f} ms/frame CPU)"
    )
    for run in ffmpeg:
        print(
            f"ffmpeg -threads 0 -f null: {per_frame(run['wall_s']):.2f} ms/frame wall "
            f"(-benchmark utime {per_frame(run['utime_s']):.2f} ms/frame CPU, rtime {run['rtime_s']:.2f} s)"
        )
    print(f"PyAV / ffmpeg: {pyav_ms / ffmpeg_ms:.2f}x (decode alone {decode_ms / ffmpeg_ms:.2f}x)")
    return {"pyav_ms": pyav_ms, "ffmpeg_ms": ffmpeg_ms, "realtime_ms": 1000.0 / FPS}


def make_scenes(folder: Path, video: Path, shader: str) -> dict:
    """The video and a still 4K photo as panorama scenes, and the built-in shader scene."""
    from PIL import Image

    from tidewell.scenes.catalog import available_scenes, load_scene

    scenes = {}
    for name, media in (("bench_video", video.name), ("bench_still", "still.jpg")):
        scene = folder / name
        scene.mkdir()
        lines = [f'id = "{name}"', 'title = "Benchmark"', 'description = "benchmark"', 'postures = ["seated"]']
        kind = "video" if name == "bench_video" else "image"
        (scene / "scene.toml").write_text("\n".join([*lines, 'kind = "panorama"', f'{kind} = "{media}"']) + "\n")
        if kind == "video":
            (scene / media).symlink_to(video.resolve())
        else:
            rgb = (
                np.dstack([_y_field(WIDTH, HEIGHT)] * 3)
                + _noise(np.random.default_rng(1), WIDTH, HEIGHT, 20, 2)[..., None]
            )
            Image.fromarray(rgb).save(scene / media, quality=90)
        scenes[name] = load_scene(scene, "user")
    scenes[shader] = available_scenes()[shader]
    return scenes


def run_case(target, scene_id: str, seconds: float, hz: float, clock0: float, times: dict) -> None:
    """Frames of `scene_id` paced at `hz` on the wall clock; engine and update times appended to `times`."""
    from tidewell.core.frame_state import Posture
    from tidewell.engine.render.scene_states import scene_state

    period = 1.0 / hz
    compiled = target.renderer._compiled.get(scene_id)
    media = compiled.media if compiled is not None else None
    end = time.perf_counter() + seconds
    tick = time.perf_counter()
    while tick < end:
        time.sleep(max(0.0, tick - time.perf_counter()))
        start = time.perf_counter()
        now = start - clock0
        state = scene_state(scene_id, Posture.SEATED, t_s=now, phase_elapsed_s=now, breath=0.5)
        if media is not None:
            media.update(state)
        updated = time.perf_counter()
        target.render(state)
        target.ctx.finish()
        done = time.perf_counter()
        times["engine"].append(done - start)
        times["update"].append(updated - start)
        tick = max(tick + period, done)  # an overrun frame is not made up for


def breakdown(target, scene_id: str, seconds: float, hz: float, clock0: float) -> dict:
    """The video media's update split into strip uploads and, per completed frame, mipmaps and the swap
    of the plane sets (a finish around each part; the YUV->RGB conversion is in the scene's draw)."""
    media = target.renderer._compiled[scene_id].media
    ctx, parts = target.ctx, {"show": [], "upload": []}

    def timed(name, method):
        def call(*args, **kwargs):
            ctx.finish()  # what was queued before belongs to the caller
            start = time.perf_counter()
            result = method(*args, **kwargs)
            ctx.finish()
            parts[name].append(time.perf_counter() - start)
            return result

        return call

    shown_before = media.frames_shown
    media._show = timed("show", media._show)
    media._upload = timed("upload", media._upload)
    times = {"engine": [], "update": []}
    try:
        run_case(target, scene_id, seconds, hz, clock0, times)
    finally:
        for name in ("_show", "_upload"):
            del media.__dict__[name]
    completed = media.frames_shown - shown_before
    ms = {name: sum(values) * 1000 for name, values in parts.items()}
    return {
        "frames": len(times["engine"]),
        "uploads": len(parts["upload"]),
        "converts": completed,
        "upload_ms": ms["upload"] / max(1, len(parts["upload"])),
        "mipmaps_ms": (ms["show"] - ms["upload"]) / max(1, completed),
    }


def frame_loop(scenes: dict, shader: str, args, size: tuple[int, int]) -> dict:
    from tidewell.core.frame_state import Posture
    from tidewell.engine.render.scene_states import scene_state
    from tidewell.engine.render.targets import OffscreenTarget

    target = OffscreenTarget(size=size, comfort=True, scenes=scenes, strict=True)
    target.renderer.wait_for_video = False  # live: the frame loop never waits on the decoder
    cases = {"video": "bench_video", "shader": shader, "still": "bench_still"}
    times = {case: {"engine": [], "update": []} for case in cases}
    try:
        print(f"frame loop: {target.description}, {size[0]}x{size[1]}, comfort guard on, {args.hz:g} Hz pacing")
        clock0 = time.perf_counter()
        for scene_id in cases.values():  # compile, open the media, fill the decoder's queue
            target.render(scene_state(scene_id, Posture.SEATED, t_s=0.0))
            target.ctx.finish()
        target.renderer._compiled["bench_video"].media.decoder.first_frame()
        run_case(target, "bench_video", 1.0, args.hz, clock0, {"engine": [], "update": []})
        for _ in range(args.rounds):
            for case, scene_id in cases.items():
                run_case(target, scene_id, args.run_seconds, args.hz, clock0, times[case])
        media = target.renderer._compiled["bench_video"].media
        shown, dropped = media.frames_shown, media.decoder.dropped
        split = breakdown(target, "bench_video", max(2.0, args.run_seconds / 2), args.hz, clock0)
        problems = target.drain_problems()
    finally:
        target.close()
    scale = {case: scenes[scene_id].render_scale for case, scene_id in cases.items()}
    return {"times": times, "scale": scale, "shown": shown, "dropped": dropped, "split": split, "problems": problems}


def print_loop(result: dict, shader: str, hz: float) -> dict:
    times, scale, stats = result["times"], result["scale"], {}
    print(f"{'case':<26} {'frames':>6} {'p50':>9} {'p99':>9} {'update p50':>11} {'update p99':>11}")
    for case, label in (("video", "video panorama"), ("shader", shader), ("still", "still 4K panorama")):
        engine, update = np.array(times[case]["engine"]) * 1000, np.array(times[case]["update"]) * 1000
        stats[case] = (np.percentile(engine, 50), np.percentile(engine, 99))
        print(
            f"{f'{label} (x{scale[case]:g})':<26} {len(engine):>6} {stats[case][0]:>6.2f} ms {stats[case][1]:>6.2f} ms"
            f" {np.percentile(update, 50):>8.2f} ms {np.percentile(update, 99):>8.2f} ms"
        )
    for case in ("video", "still"):
        p50, p99 = (stats[case][i] / stats["shader"][i] for i in (0, 1))
        print(f"{case} / {shader}: p50 {p50:.2f}x, p99 {p99:.2f}x")
    split = result["split"]
    print(
        f"video update split ({split['frames']} frames): upload {split['upload_ms']:.2f} ms per strip call "
        f"({split['uploads']} calls); mipmaps and the swap {split['mipmaps_ms']:.2f} ms per new frame "
        f"({split['converts']} frames); YUV->RGB is per drawn pixel, in the scene's draw"
    )
    print(f"video frames shown in the loop {result['shown']}, dropped by the decoder {result['dropped']}")
    for problem in result["problems"]:
        print(f"problem: {problem}")
    return {"p99_ratio": stats["video"][1] / stats["shader"][1], "stats": stats, "budget_ms": 1000.0 / hz}


def summary(decode: dict, keep: dict, loop: dict, shader: str) -> None:
    stats = loop["stats"]
    print("\nsummary")
    print(
        f"  decode keep-up: {keep['dropped_per_min']:.1f} frames dropped/min, {keep['late_per_min']:.0f} late "
        f"ticks/min ({'met' if keep['dropped'] + keep['late'] == 0 else 'NOT met'}: goal 0); PyAV {decode['pyav_ms']:.2f} ms/frame vs "
        f"ffmpeg CLI {decode['ffmpeg_ms']:.2f} ms/frame ({decode['pyav_ms'] / decode['ffmpeg_ms']:.2f}x), "
        f"real time needs <= {decode['realtime_ms']:.1f} ms"
    )
    print(
        f"  frame loop p99: video {stats['video'][1]:.2f} ms, {shader} {stats['shader'][1]:.2f} ms, "
        f"still {stats['still'][1]:.2f} ms; video/shader {loop['p99_ratio']:.2f}x "
        f"({'met' if loop['p99_ratio'] <= 1.2 else 'NOT met'}: goal <= 1.2x); "
        f"{loop['budget_ms']:.1f} ms frame budget at the pacing rate"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the generated video")
    parser.add_argument("--video", type=Path, help="use this video instead of generating one")
    parser.add_argument("--preset", default="ultrafast", help="libx264 preset of the generated video")
    parser.add_argument(
        "--crf", type=int, default=23, help="libx264 quality (23: about 60 Mbit/s, like 4K 360 footage)"
    )
    parser.add_argument(
        "--keepup-seconds", type=float, help="wall-clock length of the keep-up test (default 2x the video)"
    )
    parser.add_argument("--decode-runs", type=int, default=2, help="alternating PyAV / ffmpeg decode runs")
    parser.add_argument("--size", default="960x960", help="eye size of the frame loop")
    parser.add_argument("--hz", type=float, default=72.0, help="frame loop pacing")
    parser.add_argument("--run-seconds", type=float, default=5.0, help="length of each frame-loop run")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of video, shader, still")
    parser.add_argument("--shader", default="dusk_ocean", help="the built-in shader scene to compare with")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        video = args.video
        if video is None:
            start = time.perf_counter()
            video = encode_video(folder / "bench.mp4", args.seconds, args.preset, args.crf)
            print(
                f"encoded {args.seconds:g} s of {WIDTH}x{HEIGHT} at {FPS} fps ({args.preset}) in {time.perf_counter() - start:.1f} s"
            )
        import av

        with av.open(str(video)) as container:
            stream = container.streams.video[0]
            length = float(stream.duration * stream.time_base) if stream.duration else args.seconds
            print(
                f"video: {video.name} {stream.codec_context.width}x{stream.codec_context.height} "
                f"{stream.codec_context.name}, {length:.1f} s, {video.stat().st_size * 8 / length / 1e6:.0f} Mbit/s"
            )
        pyav, ffmpeg = [], []
        for _ in range(args.decode_runs):
            pyav.append(pyav_decode(video))
            ffmpeg.append(ffmpeg_decode(video))
        keep = keep_up(video, args.keepup_seconds or 2 * length)
        decode = print_decode(keep, pyav, ffmpeg, pyav[0]["frames"])
        result = frame_loop(make_scenes(folder, video, args.shader), args.shader, args, size)
        loop = print_loop(result, args.shader, args.hz)
    summary(decode, keep, loop, args.shader)
    return 0


if __name__ == "__main__":
    sys.exit(main())
