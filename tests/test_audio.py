"""Breathing-guide sound: real WAV files written by WavOutput, decoded with `wave` and measured."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import wave
from pathlib import Path

import numpy as np
import pytest
from frame_states import CYCLE_S, make_state

from tidewell.audio.output import WavOutput, open_audio_output
from tidewell.audio.synth import BreathSynth
from tidewell.core.frame_state import BreathStage

FPS = 30
SR = 24000


def sine_breath(t: float) -> float:
    """Lung fill of a 10 s breath cycle: empty at t=0, full at t=5."""
    return 0.5 - 0.5 * math.cos(2.0 * math.pi * t / CYCLE_S)


def drive_wav(path: Path, states, dt: float = 1.0 / FPS, seed: int = 0) -> np.ndarray:
    output = WavOutput(path, sample_rate=SR, channels=2, seed=seed)
    for state in states:
        output.advance(state, dt)
    output.close()
    return read_wav(path)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getframerate() == SR
        raw = wav.readframes(wav.getnframes())
        channels = wav.getnchannels()
    return np.frombuffer(raw, dtype="<i2").reshape(-1, channels).astype(np.float64) / 32767.0


def breath_states(seconds: float, **fields):
    return [make_state(t=i / FPS, breath_level=sine_breath(i / FPS), **fields) for i in range(round(seconds * FPS))]


def window_rms(x: np.ndarray, window_s: float = 0.05) -> np.ndarray:
    size = round(window_s * SR)
    mono = x.mean(axis=1)
    windows = mono[: len(mono) // size * size].reshape(-1, size)
    return np.sqrt(np.mean(windows**2, axis=1))


def dbfs(value: float) -> float:
    return 20.0 * math.log10(max(value, 1e-12))


def max_step(x: np.ndarray) -> float:
    return float(np.abs(np.diff(x, axis=0)).max())


def test_envelope_swells_on_inhale_and_repeats_with_the_breath_cycle(tmp_path):
    samples = drive_wav(tmp_path / "breath.wav", breath_states(40.0))
    rms = window_rms(samples)
    window_times = (np.arange(len(rms)) + 0.5) * 0.05
    levels = np.array([sine_breath(t) for t in window_times])

    top = rms[levels > 0.95]
    bottom = rms[levels < 0.05][4:]  # skip the very first fade-up from silence
    assert dbfs(np.median(top)) - dbfs(np.median(bottom)) > 15.0

    envelope_db = np.array([dbfs(v) for v in rms])
    settled = window_times > 2.5  # after the layers' 2 s fade-in from silence
    assert np.corrcoef(envelope_db[settled], levels[settled])[0, 1] > 0.9

    centred = envelope_db - envelope_db.mean()
    lags = np.arange(round(5.0 / 0.05), round(15.0 / 0.05))
    correlation = [np.dot(centred[:-lag], centred[lag:]) / (len(centred) - lag) for lag in lags]
    period_s = lags[int(np.argmax(correlation))] * 0.05
    assert period_s == pytest.approx(CYCLE_S, abs=0.15)


def test_jumps_in_breath_and_fade_are_ramped_without_clicks(tmp_path):
    seconds = 20.0
    steady = drive_wav(
        tmp_path / "steady.wav", [make_state(t=i / FPS, breath_level=1.0) for i in range(round(seconds * FPS))]
    )
    # Every 10 frames breath and fade jump between extremes: 60 jumps at block boundaries.
    jumpy_states = []
    for i in range(round(seconds * FPS)):
        high = (i // 10) % 2 == 0
        jumpy_states.append(
            make_state(t=i / FPS, breath_level=1.0 if high else 0.0, fade=1.0 if (i // 15) % 2 == 0 else 0.1)
        )
    jumpy = drive_wav(tmp_path / "jumpy.wav", jumpy_states)

    # Same seed, same blocks: the jumpy render is the steady sound under slower envelopes, so a
    # ramped envelope cannot make a sample step larger than the steady sound's own largest step.
    bound = 1.25 * max_step(steady)
    assert max_step(jumpy) < bound

    # The bound would catch a real click: a hard level step at the steady sound's loudest sample.
    loudest = int(np.abs(steady[:, 0]).argmax())
    hard_step = steady.copy()
    hard_step[loudest:] *= 0.1
    assert max_step(hard_step) > bound


def test_fade_zero_is_silence_and_fade_ramps_have_no_step(tmp_path):
    silent = drive_wav(tmp_path / "silent.wav", [make_state(t=i / FPS, fade=0.0) for i in range(60)])
    assert len(silent) == 2 * SR
    assert not silent.any()

    steady = drive_wav(tmp_path / "steady.wav", [make_state(t=i / FPS) for i in range(6 * FPS)])
    ramp_states = []
    for i in range(7 * FPS):  # 2 s up, 2 s full, 2 s down, 1 s of silence
        t = i / FPS
        fade = min(1.0, t / 2.0) if t < 4.0 else max(0.0, (6.0 - t) / 2.0)
        ramp_states.append(make_state(t=t, fade=fade))
    ramped = drive_wav(tmp_path / "ramp.wav", ramp_states)
    assert max_step(ramped) <= max_step(steady) * 1.01
    rms = window_rms(ramped, 0.2)
    assert rms[0] < rms[5] < rms[12] and rms[29] < 0.1 * rms[12]
    assert not ramped[-SR // 2 :].any()  # fade 0 at the end is exact silence


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    states = breath_states(3.0, audio_layers=(("breath", 0.8), ("drone", 0.6)))
    drive_wav(tmp_path / "a.wav", states, seed=7)
    drive_wav(tmp_path / "b.wav", states, seed=7)
    drive_wav(tmp_path / "c.wav", states, seed=8)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "c.wav").read_bytes()


def test_wav_length_matches_the_driven_time_exactly(tmp_path):
    samples = drive_wav(tmp_path / "fixed.wav", breath_states(3.0))
    assert len(samples) == 72000

    rng = np.random.default_rng(3)
    dts = list(rng.uniform(0.005, 0.05, 200))
    dts = [dt for dt in np.cumsum(dts) if dt < 3.0]
    dts = np.diff([0.0, *dts, 3.0])  # irregular frames that add up to 3.0 s
    output = WavOutput(tmp_path / "jitter.wav", sample_rate=SR)
    for t, dt in zip(np.cumsum(dts), dts):
        output.advance(make_state(t=float(t), breath_level=sine_breath(float(t))), float(dt))
    output.close()
    output.close()  # idempotent
    assert len(read_wav(tmp_path / "jitter.wav")) == 72000


def test_wav_is_readable_when_the_process_dies_without_close(tmp_path):
    path = tmp_path / "killed.wav"
    script = textwrap.dedent(f"""
        import os, signal
        from tidewell.audio.output import WavOutput
        from tidewell.core.frame_state import BreathStage, FrameState, Posture
        state = FrameState(t_s=0, phase_index=0, phase_name="p", phase_elapsed_s=0, phase_progress=0,
            breath_phase=0, breath_stage=BreathStage.INHALE, breath_level=1, pace_bpm=6, calm=0.5,
            posture=Posture.SUPINE, scene="s", previous_scene=None, crossfade=1, fade=1)
        output = WavOutput({str(path)!r}, sample_rate={SR})
        for _ in range({FPS}):
            output.advance(state, 1 / {FPS})
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == -9, result.stderr
    samples = read_wav(path)
    assert len(samples) == SR
    assert np.abs(samples).max() > 0.01


def test_unknown_layers_are_ignored_and_the_drone_brightens_with_calm(tmp_path):
    plain = drive_wav(tmp_path / "plain.wav", breath_states(2.0, audio_layers=(("breath", 1.0),)))
    with_unknown = drive_wav(
        tmp_path / "unknown.wav", breath_states(2.0, audio_layers=(("breath", 1.0), ("thunder", 1.0)))
    )
    assert np.array_equal(plain, with_unknown)
    no_layers = drive_wav(tmp_path / "none.wav", breath_states(2.0))  # no program layers: the plain guide
    assert np.array_equal(plain, no_layers)

    muted = drive_wav(tmp_path / "muted.wav", breath_states(2.0, audio_layers=(("breath", 0.0),)))
    assert not muted.any()

    def drone_centroid(calm: float) -> float:
        samples = drive_wav(
            tmp_path / f"drone{calm}.wav", breath_states(4.0, calm=calm, audio_layers=(("breath", 0.0), ("drone", 1.0)))
        )
        mono = samples[SR:, 0]
        spectrum = np.abs(np.fft.rfft(mono)) ** 2
        freqs = np.fft.rfftfreq(len(mono), 1.0 / SR)
        return float(np.sum(freqs * spectrum) / np.sum(spectrum))

    tense, calm = drone_centroid(0.0), drone_centroid(1.0)
    assert calm > 1.4 * tense
    assert calm < 1000.0


def test_the_guide_is_soft_and_has_no_harsh_highs(tmp_path):
    samples = drive_wav(tmp_path / "thirty.wav", breath_states(30.0))
    full = drive_wav(tmp_path / "full.wav", [make_state(t=i / FPS) for i in range(5 * FPS)])[SR // 2 :]
    mono = samples.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1.0 / SR)
    power_centroid = float(np.sum(freqs * spectrum) / np.sum(spectrum))
    above_4k = float(spectrum[freqs > 4000].sum() / spectrum.sum())
    peak_db = dbfs(np.abs(samples).max())
    rms_db = dbfs(float(np.sqrt(np.mean(samples**2))))
    full_rms_db = dbfs(float(np.sqrt(np.mean(full**2))))
    print(
        f"\n30 s breath guide: peak {peak_db:.1f} dBFS, RMS {rms_db:.1f} dBFS, full-breath RMS "
        f"{full_rms_db:.1f} dBFS, power centroid {power_centroid:.0f} Hz, "
        f"power above 4 kHz {10 * math.log10(above_4k):.0f} dB"
    )
    assert peak_db < -6.0
    assert -30.0 < full_rms_db < -20.0
    assert power_centroid < 1000.0
    assert above_4k < 10 ** (-30 / 10)


def test_synth_blocks_are_float32_in_range_and_block_size_does_not_change_the_noise():
    synth = BreathSynth(sample_rate=48000, channels=2, seed=1)
    block = synth.render(make_state(), 480)
    assert block.dtype == np.float32 and block.shape == (480, 2)
    assert np.abs(block).max() <= 1.0
    # Once levels are settled, splitting a block in two gives the same samples.
    a, b = BreathSynth(seed=2), BreathSynth(seed=2)
    state = make_state(breath_level=0.7)
    a.render(state, 1000)
    b.render(state, 1000)
    whole = a.render(state, 960)
    halves = np.concatenate([b.render(state, 480), b.render(state, 480)])
    np.testing.assert_allclose(whole, halves, atol=1e-6)


def _has_output_device() -> bool:
    try:
        import sounddevice

        sounddevice.query_devices(kind="output")
    except Exception:
        return False
    return True


@pytest.mark.skipif(_has_output_device(), reason="this machine has a sound device; no fallback to test")
def test_without_a_sound_device_the_output_falls_back_to_a_wav_file(tmp_path):
    output, message = open_audio_output(tmp_path / "breath.wav")
    try:
        assert isinstance(output, WavOutput)
        assert output.path == tmp_path / "breath.wav"
        assert "no sound device" in message and "breath.wav" in message and "\n" not in message
        output.advance(make_state(), 0.5)
    finally:
        output.close()
    assert len(read_wav(tmp_path / "breath.wav")) == SR // 2


def test_not_preferring_the_device_writes_a_wav_file(tmp_path):
    output, message = open_audio_output(tmp_path / "session.wav", prefer_device=False)
    output.close()
    assert isinstance(output, WavOutput) and "session.wav" in message


def test_missing_portaudio_library_falls_back_to_a_wav_file(tmp_path):
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(
        textwrap.dedent("""
        import sys

        class NoPortAudio:
            def find_spec(self, name, path=None, target=None):
                if name == "sounddevice":
                    raise OSError("PortAudio library not found")
                return None

        sys.meta_path.insert(0, NoPortAudio())
    """)
    )
    wav = tmp_path / "breath.wav"
    script = textwrap.dedent(f"""
        import json
        try:
            import sounddevice
            hooked = False
        except OSError:
            hooked = True
        from tidewell.audio.output import open_audio_output
        output, message = open_audio_output({str(wav)!r})
        output.close()
        print(json.dumps({{"hooked": hooked, "type": type(output).__name__, "message": message}}))
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hook_dir), os.environ.get("PYTHONPATH")]))}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["hooked"], "the sitecustomize hook did not block sounddevice"
    assert report["type"] == "WavOutput"
    assert "PortAudio" in report["message"] and "breath.wav" in report["message"]
    assert wav.exists()


@pytest.fixture
def jack_dummy_server():
    """A JACK server on the dummy driver (real-time pacing, no sound card), named for this test."""
    import shutil

    if not (shutil.which("jackd") and shutil.which("jack_rec") and shutil.which("jack_wait")):
        pytest.skip("jackd2 (jackd, jack_rec, jack_wait) is not installed")
    name = f"tidewell-test-{os.getpid()}"
    env = {**os.environ, "JACK_DEFAULT_SERVER": name, "JACK_NO_START_SERVER": "1"}
    server = subprocess.Popen(
        ["jackd", "-n", name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "480"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        ready = subprocess.run(["jack_wait", "-w", "-t", "60"], env=env, capture_output=True, timeout=90)
        if ready.returncode != 0:
            pytest.skip("the JACK dummy server did not start")
        yield {**env, "TIDEWELL_TEST_JACKD_PID": str(server.pid)}
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_device_output_plays_the_swell_through_portaudio(tmp_path, jack_dummy_server):
    capture = tmp_path / "captured.wav"
    # A fresh process: PortAudio lists devices once, when sounddevice is first imported.
    script = textwrap.dedent(f"""
        import json, subprocess, sys, time
        sys.path.insert(0, {str(Path(__file__).parent / "audio_jack")!r})
        from frame_states import make_state
        from tidewell.audio.output import open_audio_output
        output, message = open_audio_output({str(tmp_path / "unused.wav")!r})
        # The audio process's JACK client is "PortAudio", or "PortAudio-01" when this process has
        # a PortAudio client of its own (test_audio imports sounddevice).
        ports = [p for p in subprocess.run(["jack_lsp"], capture_output=True, text=True).stdout.split()
                 if p.startswith("PortAudio") and ":out_" in p]
        recorder = subprocess.Popen(["jack_rec", "-f", {str(capture)!r}, "-d", "2", "-b", "16", *ports],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        start = time.monotonic()
        while recorder.poll() is None and time.monotonic() - start < 60:
            t = time.monotonic() - start
            output.advance(make_state(t=t, breath_level=min(1.0, t / 2.0)), 1 / 30)
            time.sleep(1 / 30)
        output.close()
        output.close()
        print(json.dumps({{"type": type(output).__name__, "message": message}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=jack_dummy_server, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["type"] == "DeviceOutput"
    assert report["message"].startswith("playing through")

    with wave.open(str(capture), "rb") as wav:
        assert wav.getframerate() == 48000 and wav.getsampwidth() == 2
        played = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64) / 32767.0
    assert len(played) >= 2 * 48000 * 2 * 0.9
    first, last = played[: len(played) // 4], played[-len(played) // 4 :]
    assert dbfs(np.sqrt(np.mean(last**2))) - dbfs(np.sqrt(np.mean(first**2))) > 6.0
    assert np.abs(played).max() < 0.5


# -- layers, chimes, real-time path ---------------------------------------------------------------
AMBIENT = ("drone", "ocean", "rain", "wind")
ALL_LAYERS = (("breath", 0.8), ("drone", 0.5), ("ocean", 0.6), ("rain", 0.3), ("wind", 0.3), ("chime", 0.6))


def synth_render(states, seed: int = 0, block: int = SR // FPS) -> np.ndarray:
    """Float samples straight from the synth (the same path WavOutput and the callback use)."""
    synth = BreathSynth(sample_rate=SR, channels=2, seed=seed)
    return np.concatenate([synth.render(state, block) for state in states]).astype(np.float64)


def centroid(samples: np.ndarray) -> float:
    mono = samples.mean(axis=1)
    spectrum = np.abs(np.fft.rfft(mono)) ** 2
    freqs = np.fft.rfftfreq(len(mono), 1.0 / SR)
    return float(np.sum(freqs * spectrum) / np.sum(spectrum))


def guide_states(seconds: float, phase_changes_s=(), **fields):
    """A 10 s breath: inhale 4 s, hold 1 s, exhale 5 s; phase_index counts the changes passed."""
    states = []
    for i in range(round(seconds * FPS)):
        t = i / FPS
        within = t % CYCLE_S
        if within < 4.0:
            stage, level = BreathStage.INHALE, 0.5 - 0.5 * math.cos(math.pi * within / 4.0)
        elif within < 5.0:
            stage, level = BreathStage.HOLD_IN, 1.0
        else:
            stage, level = BreathStage.EXHALE, 0.5 + 0.5 * math.cos(math.pi * (within - 5.0) / 5.0)
        phase = sum(1 for change in phase_changes_s if t >= change)
        states.append(make_state(t=t, breath_level=level, breath_stage=stage, phase_index=phase, **fields))
    return states


def onsets(samples: np.ndarray, window_s: float = 0.01) -> list[float]:
    rms = window_rms(samples, window_s)
    high, low = 0.1 * rms.max(), 0.01 * rms.max()
    times, armed = [], True
    for i, value in enumerate(rms):
        if armed and value > high:
            # back-track to where this rise left the quiet floor
            start = i
            while start > 0 and rms[start - 1] > low:
                start -= 1
            times.append(start * window_s)
            armed = False
        elif value < low:
            armed = True
    return times


@pytest.mark.parametrize("layer", ["breath", *AMBIENT])
def test_every_layer_is_audible_alone_and_silent_when_absent(layer):
    alone = synth_render(breath_states(4.0, audio_layers=((layer, 1.0),)))[3 * SR :]
    assert dbfs(float(np.sqrt(np.mean(alone**2)))) > -45.0
    assert not synth_render(breath_states(1.0, audio_layers=((layer, 0.0),))).any()


def test_layers_add_up_so_an_absent_layer_contributes_nothing():
    singles = sum(
        synth_render(breath_states(3.0, audio_layers=((name, volume),)))
        for name, volume in ALL_LAYERS
        if name != "chime"
    )
    together = synth_render(breath_states(3.0, audio_layers=tuple(p for p in ALL_LAYERS if p[0] != "chime")))
    np.testing.assert_allclose(together, singles, atol=1e-6)
    without_rain = synth_render(
        breath_states(3.0, audio_layers=tuple(p for p in ALL_LAYERS if p[0] not in ("chime", "rain")))
    )
    rain = synth_render(breath_states(3.0, audio_layers=(("rain", 0.3),)))
    np.testing.assert_allclose(together - without_rain, rain, atol=1e-6)


@pytest.mark.parametrize("layer", AMBIENT)
def test_calm_brightens_each_ambient_layer(layer):
    def brightness(calm: float) -> float:
        return centroid(synth_render(breath_states(8.0, calm=calm, audio_layers=((layer, 1.0),)))[2 * SR :])

    tense, calm = brightness(0.0), brightness(1.0)
    print(f"\n{layer}: centroid {tense:.0f} Hz at calm 0, {calm:.0f} Hz at calm 1")
    assert calm > 1.3 * tense


def test_breath_swell_shapes_deepen_from_gentle_to_full():
    depths = {}
    for swell in ("gentle", "even", "full"):
        samples = synth_render(breath_states(30.0, breath_swell=swell, audio_layers=(("breath", 1.0),)))
        rms = window_rms(samples, 0.1)
        times = (np.arange(len(rms)) + 0.5) * 0.1
        levels = np.array([sine_breath(t) for t in times])
        top, bottom = rms[(levels > 0.97) & (times > 3)], rms[(levels < 0.03) & (times > 3)]
        depths[swell] = dbfs(np.median(top)) - dbfs(np.median(bottom))
    print(f"\nswell depth (dB): {depths}")
    assert 15.0 < depths["gentle"] < depths["even"] < depths["full"]
    unknown = synth_render(breath_states(3.0, breath_swell="stormy"))
    np.testing.assert_array_equal(unknown, synth_render(breath_states(3.0, breath_swell="gentle")))


def test_chime_rings_once_per_breath_turn_and_once_per_phase_change(tmp_path):
    from tidewell.audio.beds import BREATH_CHIME_HZ, PHASE_CHIME_HZ

    # Turns (inhale -> hold) at 4, 14, ..., 54 s; phase changes at 8 and 38 s, between turns.
    states = guide_states(60.0, phase_changes_s=(8.0, 38.0), audio_layers=(("chime", 1.0),))
    samples = drive_wav(tmp_path / "chimes.wav", states)
    found = onsets(samples)
    expected = [4.0, 8.0, 14.0, 24.0, 34.0, 38.0, 44.0, 54.0]
    assert len(found) == len(expected), found
    assert np.allclose(found, expected, atol=0.05), found

    def pitch(t: float) -> float:
        part = samples[round(t * SR) : round((t + 1.0) * SR)].mean(axis=1)
        spectrum = np.abs(np.fft.rfft(part))
        return float(np.fft.rfftfreq(len(part), 1.0 / SR)[spectrum.argmax()])

    assert pitch(14.0) == pytest.approx(BREATH_CHIME_HZ, abs=2.0)
    assert pitch(38.0) == pytest.approx(PHASE_CHIME_HZ, abs=2.0)

    # A phase change on a turn rings one bell, not two; chime volume 0 rings none.
    together = synth_render(guide_states(12.0, phase_changes_s=(4.0,), audio_layers=(("chime", 1.0),)))
    assert len(onsets(together)) == 1
    quiet = synth_render(guide_states(30.0, phase_changes_s=(8.0,), audio_layers=(("chime", 0.0), ("drone", 0.0))))
    assert not quiet.any()


def test_chime_attack_is_soft_and_sits_well_below_the_swell():
    from tidewell.audio.beds import BREATH_CHIME_HZ, BREATH_CHIME_S, PHASE_CHIME_HZ, PHASE_CHIME_S, chime_step_bound

    samples = synth_render(guide_states(20.0, phase_changes_s=(8.0,), audio_layers=(("chime", 1.0),)))
    bound = max(
        chime_step_bound(SR, BREATH_CHIME_HZ, BREATH_CHIME_S), chime_step_bound(SR, PHASE_CHIME_HZ, PHASE_CHIME_S)
    )
    assert 0 < max_step(samples) <= bound + 1.0 / 32767  # no step above the bell's own largest

    start = round(4.0 * SR)
    envelope = window_rms(samples[start : start + SR], 0.005)
    assert envelope.argmax() * 0.005 >= 0.03  # the bell swells in over tens of milliseconds
    assert envelope[0] < 0.2 * envelope.max()

    swell = synth_render(guide_states(12.0, audio_layers=(("breath", 1.0),)))[4 * SR : 5 * SR]
    bell = samples[start : start + SR]
    assert dbfs(np.abs(samples).max()) < -30.0
    assert dbfs(np.sqrt(np.mean(bell**2))) < dbfs(np.sqrt(np.mean(swell**2))) - 10.0


def test_all_layers_same_seed_identical_other_seed_different(tmp_path):
    states = guide_states(6.0, phase_changes_s=(3.0,), audio_layers=ALL_LAYERS)
    drive_wav(tmp_path / "a.wav", states, seed=11)
    drive_wav(tmp_path / "b.wav", states, seed=11)
    drive_wav(tmp_path / "c.wav", states, seed=12)
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()
    assert (tmp_path / "a.wav").read_bytes() != (tmp_path / "c.wav").read_bytes()


def test_layer_and_master_changes_glide_without_clicks():
    # Layers switch on and off, calm and volume jump at block boundaries: every change must be
    # slower than the sound itself, so no step exceeds the steady mix's own largest step.
    steady = synth_render(guide_states(20.0, audio_layers=ALL_LAYERS[:-1], calm=1.0))
    jumpy_states = []
    for i, state in enumerate(guide_states(20.0, calm=1.0)):
        on = (i // 45) % 2 == 0
        layers = ALL_LAYERS[:-1] if on else (("breath", 0.8),)
        jumpy_states.append(
            make_state(
                t=state.t_s,
                breath_level=state.breath_level,
                breath_stage=state.breath_stage,
                calm=1.0 if on else 0.0,
                volume=1.0 if (i // 70) % 2 == 0 else 0.2,
                audio_layers=layers,
            )
        )
    jumpy = synth_render(jumpy_states)
    assert max_step(jumpy) < 1.1 * max_step(steady)


def test_render_into_allocates_nothing_after_warm_up():
    import tracemalloc

    block = 4096  # any block-sized temporary would be >= 16 KiB (float32 mono)
    synth = BreathSynth(sample_rate=48000, channels=2, seed=3)
    out = np.empty((block, 2), dtype=np.float32)
    states = guide_states(40.0, phase_changes_s=(5.0, 20.0), audio_layers=ALL_LAYERS, calm=0.7)
    for state in states[:150]:  # warm-up: levels settle, first chimes ring
        synth.render_into(state, out)
    tracemalloc.start()
    try:
        for state in states[150:160]:  # tracemalloc's own first-use allocations (~10 KB) land here
            synth.render_into(state, out)
        measured = states[160:]  # sliced before measuring: the list itself is ~8 KB
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for state in measured:  # 1040 blocks: breath turns, a phase change, chimes ringing
            synth.render_into(state, out)
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert synth.chimes_started >= 3
    print(
        f"\nrender_into x{len(states) - 160}: traced memory growth {after - before} B, peak above start {peak - before} B"
    )
    # Within a call a few numpy views (~100-200 B each) are alive at once and freed on return
    # (measured ~1.2 KB); one block-sized array would be 16 KiB.
    assert peak - before < 4096
    # Attributes that hold Python floats/ints are replaced each block (tens of bytes net, through
    # the float free list); anything kept per block would exceed 24 KB over 1040 blocks.
    assert after - before < 256


def test_sixty_second_offline_render_statistics(tmp_path):
    states = guide_states(60.0, phase_changes_s=(30.0,), audio_layers=ALL_LAYERS, calm=0.6)
    samples = drive_wav(tmp_path / "sixty.wav", states)
    assert len(samples) == 60 * SR
    rms_db = dbfs(float(np.sqrt(np.mean(samples**2))))
    peak_db = dbfs(float(np.abs(samples).max()))
    mix_centroid = centroid(samples)
    breath_only = drive_wav(tmp_path / "breath.wav", guide_states(60.0, audio_layers=(("breath", 1.0),)))
    ocean_only = drive_wav(tmp_path / "ocean.wav", guide_states(60.0, audio_layers=(("ocean", 1.0),)))

    def envelope_period(x: np.ndarray, low_s: float, high_s: float) -> float:
        env = np.array([dbfs(v) for v in window_rms(x[3 * SR :], 0.05)])
        env -= env.mean()
        lags = np.arange(round(low_s / 0.05), round(high_s / 0.05))
        corr = [np.dot(env[:-lag], env[lag:]) / (len(env) - lag) for lag in lags]
        return float(lags[int(np.argmax(corr))] * 0.05)

    breath_period = envelope_period(breath_only, 5.0, 15.0)
    ocean_period = envelope_period(ocean_only, 6.0, 14.0)
    print(
        f"\n60 s mix: RMS {rms_db:.1f} dBFS, peak {peak_db:.1f} dBFS, centroid {mix_centroid:.0f} Hz; "
        f"breath envelope period {breath_period:.2f} s, ocean {ocean_period:.2f} s"
    )
    assert -34.0 < rms_db < -20.0
    assert peak_db < -6.0
    assert 150.0 < mix_centroid < 1500.0
    assert breath_period == pytest.approx(CYCLE_S, abs=0.15)
    assert 8.0 <= ocean_period <= 12.0


def test_device_output_survives_a_stalled_server_and_comes_back(jack_dummy_server):
    """The JACK server freezes (SIGSTOP) for 3 s: the session keeps going silently, reports the
    loss once, re-initialises PortAudio off the frame thread and reports the device's return.
    The loop itself thaws the server, so a frame thread that waited on the frozen device would
    never get there: the run would hang and the test time out."""
    server_pid = int(jack_dummy_server["TIDEWELL_TEST_JACKD_PID"])
    script = textwrap.dedent(f"""
        import json, os, signal, sys, time
        sys.path.insert(0, {str(Path(__file__).parent / "audio_jack")!r})
        from frame_states import make_state
        from frame_thread import FrameThreadProbe
        from tidewell.audio.output import open_audio_output
        output, message = open_audio_output("unused.wav", device="JACK")
        probe = FrameThreadProbe()
        events, frames, start, stopped_at, frames_while_stopped = [], 0, time.monotonic(), None, 0
        callbacks_at_return = None
        def played_since_return():
            return callbacks_at_return is not None and output.stats()["callbacks"] > callbacks_at_return
        while time.monotonic() - start < 9.0 or not played_since_return() and time.monotonic() - start < 60.0:
            t = time.monotonic() - start
            if frames == 60:
                os.kill({server_pid}, signal.SIGSTOP)
                stopped_at = t
            if stopped_at is not None and t - stopped_at > 3.0:
                os.kill({server_pid}, signal.SIGCONT)
                stopped_at = None
            frames_while_stopped += stopped_at is not None
            probe.call(output.advance, make_state(t=t, audio_layers=(("breath", 1.0), ("ocean", 0.5))), 1 / 30)
            for kind, detail in probe.watch(output.drain_events):
                events.append((round(t, 2), kind, detail))
                if kind == "audio_back":
                    callbacks_at_return = output.stats()["callbacks"]
            frames += 1
            time.sleep(1 / 30)
        stats = output.stats()
        probe.close()
        output.close()
        print(json.dumps({{"type": type(output).__name__, "events": events, "frames": frames,
                          "frames_while_stopped": frames_while_stopped, "frame_thread": probe.summary(),
                          "callbacks_at_return": callbacks_at_return,
                          "stats": {{k: v for k, v in stats.items() if k not in ("compute_s", "render_s")}}}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=jack_dummy_server, timeout=120
    )
    os.kill(server_pid, signal.SIGCONT)  # never leave the server frozen, whatever happened
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    print(report)
    assert report["type"] == "DeviceOutput"
    kinds = [kind for _, kind, _ in report["events"]]
    assert kinds == ["audio_lost", "audio_back"], report["events"]
    assert "no audio callbacks" in report["events"][0][2]
    # The frame thread never waited on the device: frames went on while it was frozen, and
    # advance() and drain_events() made no call that could block.
    probe = report["frame_thread"]
    assert report["frames_while_stopped"] >= 2 and probe["calls"] == report["frames"]
    assert probe["wait_count"] == 0, probe["waits"]
    assert probe["largest_allocation"] < 480 * 2 * 4 and probe["retained"] < 480 * 2 * 4  # less than one block
    stats = report["stats"]
    assert stats["losses"] == 1 and stats["reopens"] == 1 and not stats["lost"]
    assert stats["block_frames"] == 480
    assert stats["callbacks"] > report["callbacks_at_return"] > 0, "the sound played again after its return"
