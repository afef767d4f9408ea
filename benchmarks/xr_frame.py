"""Engine CPU time per headset frame, against Monado (simulated headset, null compositor).

    bash .ci/xr-env run python benchmarks/xr_frame.py [--seconds 30] [--scene ember]
                                                      [--spectrum-seconds 120] [--pairs 1] [--spectrum-only]

Per frame, from xrWaitFrame's return to the next xrWaitFrame call: the session's whole loop
(runner step, sound, logging, contact sheet, per-eye cameras, OpenXR calls) minus the time spent
waiting in the runtime (xrWaitSwapchainImage, xrReleaseSwapchainImage, xrEndFrame) and in the GL
calls that draw the eyes (the GPU's work; reported apart). Baseline, same run and same runtime: a bare pyopenxr loop that only
clears each eye's image, timed the same way. Goal: engine median <= 1 ms.

On a machine without a GPU, Mesa's llvmpipe draws on the CPU: part of its work lands in the
engine's thread and is counted here, so these figures are an upper bound for a GPU machine.

The live HRV spectrum (64 s window, recomputed every 5 s from 30 s on) runs on a worker thread in
wall-clock sessions. Before/after in the same run: --pairs pairs of sessions of --spectrum-seconds
each, the spectrum on the frame thread (inline, as before) and on the worker, alternating which goes
first; each pair's p99 engine time and its inline/worker ratio are printed (machines are noisy: only
the same run's ratio says anything). --spectrum-only runs just the pairs.

The console's live view of the left eye (engine/render/live_view.py: a small GPU pass, an asynchronous
read-back, the JPEG on a worker): --live-view-pairs pairs of --seconds sessions with it on and off,
alternating which goes first; printed: median and p99 engine time on / off, their difference and ratio,
and the live view's own time per frame on the frame thread. Goal: <= 0.3 ms engine time per frame.
--live-view-only runs just these pairs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "xr"))
sys.path.insert(0, str(ROOT / "tests" / "audio_jack"))

from jack_testbed import jack_testbed  # noqa: E402
from monado_testbed import monado_service  # noqa: E402

BASELINE = r"""
import json, os, statistics, sys, time
os.environ.setdefault("PYOPENGL_PLATFORM", "egl"); os.environ.setdefault("EGL_PLATFORM", "surfaceless")
import ctypes, moderngl, xr
from xr.utils.gl import OpenGLGraphics
from xr.utils.gl.egl_util import EGLOffscreenContextProvider
seconds = float(sys.argv[1])
instance = xr.create_instance(xr.InstanceCreateInfo(enabled_extension_names=[
    xr.KHR_OPENGL_ENABLE_EXTENSION_NAME, xr.MNDX_EGL_ENABLE_EXTENSION_NAME]))
system = xr.get_system(instance, xr.SystemGetInfo(form_factor=xr.FormFactor.HEAD_MOUNTED_DISPLAY))
graphics = OpenGLGraphics(instance, system, EGLOffscreenContextProvider())
ctx = moderngl.create_context()
session = xr.create_session(instance, xr.SessionCreateInfo(system_id=system, next=graphics.graphics_binding.pointer))
space = xr.create_reference_space(session, xr.ReferenceSpaceCreateInfo(reference_space_type=xr.ReferenceSpaceType.LOCAL))
views = xr.enumerate_view_configuration_views(instance, system, xr.ViewConfigurationType.PRIMARY_STEREO)
chains = []
for v in views:
    size = (v.recommended_image_rect_width, v.recommended_image_rect_height)
    handle = xr.create_swapchain(session, xr.SwapchainCreateInfo(usage_flags=xr.SwapchainUsageFlags.COLOR_ATTACHMENT_BIT,
        format=0x8C43, sample_count=1, width=size[0], height=size[1], face_count=1, array_size=1, mip_count=1))
    fbos = [ctx.framebuffer(color_attachments=[ctx.external_texture(int(i.image), size, 4, 0, "f1")])
            for i in xr.enumerate_swapchain_images(handle, xr.SwapchainImageOpenGLKHR)]
    chains.append((handle, size, fbos))
layer_views = (xr.CompositionLayerProjectionView * 2)(*[xr.CompositionLayerProjectionView() for _ in range(2)])
running, start, wall, cpu = False, time.monotonic(), [], []
while time.monotonic() - start < seconds:
    try:
        while True:
            event = xr.poll_event(instance)
            if xr.StructureType(event.type) == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                state = xr.SessionState(ctypes.cast(ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents.state)
                if state == xr.SessionState.READY:
                    xr.begin_session(session, xr.SessionBeginInfo(primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO))
                    running = True
    except xr.EventUnavailable:
        pass
    if not running:
        time.sleep(0.01)
        continue
    frame = xr.wait_frame(session)
    begin, begin_cpu, waits = time.perf_counter(), time.thread_time(), 0.0
    xr.begin_frame(session)
    _, located = xr.locate_views(session, xr.ViewLocateInfo(view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO,
                                                            display_time=frame.predicted_display_time, space=space))
    for index, (handle, size, fbos) in enumerate(chains):
        image = xr.acquire_swapchain_image(handle, xr.SwapchainImageAcquireInfo())
        t = time.perf_counter(); xr.wait_swapchain_image(handle, xr.SwapchainImageWaitInfo(timeout=xr.INFINITE_DURATION)); waits += time.perf_counter() - t
        fbos[image].use(); fbos[image].clear(0.1, 0.1, 0.1, 1.0)
        t = time.perf_counter(); xr.release_swapchain_image(handle, xr.SwapchainImageReleaseInfo()); waits += time.perf_counter() - t
        lv = layer_views[index]; lv.pose = located[index].pose; lv.fov = located[index].fov
        lv.sub_image.swapchain = handle; lv.sub_image.image_rect.extent[:] = list(size)
    layer = xr.CompositionLayerProjection(space=space, views=layer_views)
    t = time.perf_counter()
    xr.end_frame(session, xr.FrameEndInfo(display_time=frame.predicted_display_time,
                 environment_blend_mode=xr.EnvironmentBlendMode.OPAQUE, layers=[ctypes.byref(layer)]))
    waits += time.perf_counter() - t
    wall.append(time.perf_counter() - begin - waits); cpu.append(time.thread_time() - begin_cpu)
wall, cpu = wall[10:], cpu[10:]
print(json.dumps({"frames": len(wall), "ms_median": 1e3 * statistics.median(wall), "cpu_ms_median": 1e3 * statistics.median(cpu),
                  "ms_p99": 1e3 * sorted(wall)[int(0.99 * (len(wall) - 1))]}))
"""


def run_engine(
    service,
    folder: Path,
    seconds: float,
    scene: str,
    audio_device: str | None,
    spectrum: str = "worker",
    live_view: bool = False,
) -> dict:
    env = service.client_env(TIDEWELL_DATA_DIR=str(folder / "data"), PYTHONUNBUFFERED="1")
    env.pop("DISPLAY", None)
    sound = ["--audio-device", audio_device] if audio_device else []
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tests" / "xr" / "xr_session_child.py"),
            "--out",
            str(folder / "out"),
            "--program",
            "taster",
            "--minutes",
            str(seconds / 60.0),
            "--scene",
            scene,
            *sound,
            "--spectrum",
            spectrum,
            *(["--live-view"] if live_view else []),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    sound = next((line for line in out.stdout.splitlines() if "playing through" in line or "breath.wav" in line), "?")
    for line in out.stdout.splitlines():
        if line.startswith('{"result"'):
            return {**json.loads(line)["result"], "sound": sound.strip()}
    raise SystemExit(f"the engine run failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")


def run_baseline(service, seconds: float) -> dict:
    env = service.client_env()
    out = subprocess.run(
        [sys.executable, "-c", BASELINE, str(seconds)], env=env, capture_output=True, text=True, timeout=seconds + 120
    )
    if out.returncode != 0:
        raise SystemExit(f"the baseline failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def spectrum_pairs(folder: Path, seconds: float, scene: str, pairs: int) -> list[dict[str, dict]]:
    """Sessions with the spectrum inline and on the worker (sound through JACK's dummy driver), in pairs."""
    results = []
    for index in range(pairs):
        pair = {}
        for spectrum in ("inline", "worker") if index % 2 == 0 else ("worker", "inline"):
            name = f"{spectrum}{index}"
            (folder / f"jack-{name}").mkdir()
            with (
                monado_service(folder / f"monado-{name}") as service,
                jack_testbed(folder / f"jack-{name}", portaudio=False),
            ):
                pair[spectrum] = run_engine(service, folder / name, seconds, scene, "JACK", spectrum)
        results.append(pair)
    return results


def print_pairs(pairs: list[dict[str, dict]], seconds: float) -> None:
    print(
        f"  live HRV spectrum on the frame thread (inline, before) and on a worker thread (after), "
        f"{seconds:g} s sessions, sound through JACK; figures inline / worker:"
    )
    for index, pair in enumerate(pairs):
        inline, worker = pair["inline"], pair["worker"]
        ratio = inline["engine_ms_p99"] / worker["engine_ms_p99"]
        print(
            f"    pair {index + 1}: p99 {inline['engine_ms_p99']:.3f} / {worker['engine_ms_p99']:.3f} ms"
            f" -> inline/worker {ratio:.2f}x;  median {inline['engine_ms_median']:.3f} / "
            f"{worker['engine_ms_median']:.3f} ms;  max {inline['engine_ms_max']:.1f} / "
            f"{worker['engine_ms_max']:.1f} ms  ({inline['frames']} / {worker['frames']} frames)"
        )
        marks = inline["spectrum_frames_ms"], worker["spectrum_frames_ms"]
        if all(marks):
            medians = [statistics.median(m) for m in marks]
            print(
                f"            the frames at a 5-s mark (the spectrum's; {len(marks[0])} / {len(marks[1])}): median "
                f"{medians[0]:.3f} / {medians[1]:.3f} ms -> {medians[0] / medians[1]:.2f}x;  max "
                f"{max(marks[0]):.3f} / {max(marks[1]):.3f} ms"
            )


def live_view_pairs(folder: Path, seconds: float, scene: str, pairs: int) -> list[dict[str, dict]]:
    """Sessions with the console's live view on and off (sound through JACK's dummy driver), in pairs."""
    results = []
    for index in range(pairs):
        pair = {}
        for which in ("on", "off") if index % 2 == 0 else ("off", "on"):
            name = f"live-{which}{index}"
            (folder / f"jack-{name}").mkdir()
            with (
                monado_service(folder / f"monado-{name}") as service,
                jack_testbed(folder / f"jack-{name}", portaudio=False),
            ):
                pair[which] = run_engine(service, folder / name, seconds, scene, "JACK", live_view=which == "on")
        results.append(pair)
    return results


def print_live_view(pairs: list[dict[str, dict]], seconds: float) -> None:
    print(f"  the console's live view (left eye, 480 px, 3/s), {seconds:g} s sessions, figures on / off:")
    for index, pair in enumerate(pairs):
        on, off = pair["on"], pair["off"]
        live = on["live_view"] or {}
        median = on["engine_ms_median"] - off["engine_ms_median"]
        print(
            f"    pair {index + 1}: median {on['engine_ms_median']:.3f} / {off['engine_ms_median']:.3f} ms"
            f" -> {median:+.3f} ms ({on['engine_ms_median'] / off['engine_ms_median']:.2f}x);  p99"
            f" {on['engine_ms_p99']:.3f} / {off['engine_ms_p99']:.3f} ms"
            f" -> {on['engine_ms_p99'] - off['engine_ms_p99']:+.3f} ms"
            f" ({on['engine_ms_p99'] / off['engine_ms_p99']:.2f}x);  ({on['frames']} / {off['frames']} frames)"
        )
        print(
            f"            the live view on the frame thread: mean {live.get('offer_ms_mean', float('nan')):.3f} ms"
            f" per frame, max {live.get('offer_ms_max', float('nan')):.2f} ms; {live.get('images', 0)} images"
            f" ({live.get('images', 0) / max(on['session_s'], 1e-9):.1f}/s){'; ' if live.get('problems') else ''}"
            f"{'; '.join(live.get('problems', []))};  goal +0.3 ms per frame:"
            f" {'met' if median <= 0.3 else 'NOT met'} (median difference)"
        )


def print_engine(args, baseline: dict, engine: dict, wav: dict) -> None:
    print(
        f"  baseline (bare pyopenxr loop, clear per eye): median {baseline['ms_median']:.3f} ms  "
        f"p99 {baseline['ms_p99']:.3f} ms  thread CPU {baseline['cpu_ms_median']:.3f} ms  ({baseline['frames']} frames)"
    )
    print(
        f"  engine, sound device (JACK dummy), GL excluded: median {engine['engine_ms_median']:.3f} ms  "
        f"p99 {engine['engine_ms_p99']:.3f} ms  ({engine['frames']} frames, {engine['missed']} display periods skipped, "
        f"{engine['missed_by_engine']} after a frame whose engine work outweighed its drawing; {engine['sound']})"
    )
    print(
        f"  GL calls drawing both eyes (llvmpipe's work):  median {engine['gl_ms_median']:.3f} ms; "
        f"thread CPU of the whole frame {engine['engine_cpu_ms_median']:.3f} ms"
    )
    print(
        f"  engine, sound to a WAV file (no device):       median {wav['engine_ms_median']:.3f} ms  "
        f"p99 {wav['engine_ms_p99']:.3f} ms  ({wav['frames']} frames, {wav['missed']} missed; the frame thread "
        f"renders the frame's {1e3 / 20:.0f} ms of sound itself)"
    )
    print(
        f"  engine / baseline: median {engine['engine_ms_median'] / baseline['ms_median']:.1f}x; "
        f"goal: engine median <= 1 ms -> {'met' if engine['engine_ms_median'] <= 1.0 else 'NOT met'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--scene", default="ember", help="the scene shown throughout (default ember)")
    parser.add_argument(
        "--spectrum-seconds",
        type=float,
        default=120.0,
        help="length of the inline/worker spectrum sessions (recomputations from 30 s on)",
    )
    parser.add_argument("--pairs", type=int, default=1, help="inline/worker pairs of sessions (default 1)")
    parser.add_argument("--spectrum-only", action="store_true", help="only the inline/worker pairs")
    parser.add_argument("--live-view-pairs", type=int, default=1, help="live view on/off pairs of sessions")
    parser.add_argument("--live-view-only", action="store_true", help="only the live view on/off pairs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="tidewell-xr-bench-") as folder:
        folder = Path(folder)
        everything = not args.spectrum_only and not args.live_view_only
        if everything:
            with monado_service(folder / "monado") as service:
                results["baseline"] = run_baseline(service, args.seconds)
            with monado_service(folder / "monado2") as service, jack_testbed(folder, portaudio=False):
                results["engine"] = run_engine(service, folder / "device", args.seconds, args.scene, "JACK")
            with monado_service(folder / "monado3") as service:
                results["engine_wav"] = run_engine(service, folder / "wav", args.seconds, args.scene, "no-such-device")
        if not args.live_view_only:
            results["spectrum_pairs"] = spectrum_pairs(folder, args.spectrum_seconds, args.scene, args.pairs)
        if args.live_view_pairs > 0 and not args.spectrum_only:
            results["live_view_pairs"] = live_view_pairs(folder, args.seconds, args.scene, args.live_view_pairs)
    some = results.get("engine") or (results.get("spectrum_pairs") or [{}])[0].get("worker")
    some = some or results["live_view_pairs"][0]["off"]
    print(
        f"Monado null compositor, 20 Hz, {some['eye_size'][0]}x{some['eye_size'][1]} per eye, scene {args.scene}"
        f"{'' if args.spectrum_only else f', {args.seconds:g} s each'} (llvmpipe: no GPU here)"
    )
    if everything:
        print_engine(args, results["baseline"], results["engine"], results["engine_wav"])
    if "spectrum_pairs" in results:
        print_pairs(results["spectrum_pairs"], args.spectrum_seconds)
    if "live_view_pairs" in results:
        print_live_view(results["live_view_pairs"], args.seconds)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
