"""Sound made once at start-up: seamless loops that the real-time mixer only indexes and scales.

Every loop is shaped in the frequency domain (one FFT of seeded white noise, multiplied by a
magnitude curve, transformed back), so it is periodic by construction: reading past its end
continues at its start without a seam. A layer's dark and bright loops share one noise, so
crossfading them morphs the filter instead of mixing two unrelated noises. Tonal loops (tone,
drone) hold a whole number of cycles of every partial, which makes them seamless too.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import fft

# Loop lengths (seconds), different and coprime-ish so the layers never repeat together.
BREATH_LOOP_S = 17.0
RAIN_LOOP_S = 19.0
OCEAN_LOOP_S = 23.0
WIND_LOOP_S = 29.0
DRONE_LOOP_S = 20.0  # every drone partial completes a whole number of cycles in it
TONE_LOOP_S = 1.0

# Levels of each loop at layer volume 1 (dBFS, RMS).
BREATH_NOISE_DBFS = -26.0
BREATH_TONE_DBFS = -36.0
OCEAN_DBFS = -28.0
RAIN_DBFS = -33.0
WIND_DBFS = -31.0
DRONE_DBFS = -32.0  # the fully open drone; the dark one is quieter, as a closing filter is

# Breath air: two gentle band-passes; the brighter one takes over as the lung fills.
DARK_AIR_BAND_HZ = (100.0, 550.0)
BRIGHT_AIR_BAND_HZ = (200.0, 1200.0)
AIR_ORDER = 3  # 18 dB/octave skirts: no hiss above the band
TONE_HZ = 110.0  # A2, with a soft octave above
TONE_OCTAVE_GAIN = 0.3

# Ocean surf: pink-ish noise, low-passed; calm opens it.
OCEAN_DARK_HZ = (40.0, 450.0)
OCEAN_BRIGHT_HZ = (60.0, 2200.0)
# Rain: soft hiss plus dense small droplets, each a few milliseconds of ring.
RAIN_DARK_HZ = (300.0, 1800.0)
RAIN_BRIGHT_HZ = (500.0, 5000.0)
RAIN_DROPS_PER_S = 600.0
RAIN_DROP_SHARE = 0.6  # of the rain's power
# Wind: resonant band noise; gusts and calm move it between a low and a higher band.
WIND_DARK = (280.0, 2.5)  # (centre Hz, Q)
WIND_BRIGHT = (750.0, 2.5)

# Drone: three slow voices (A1, a slightly detuned A1, E2), low-passed; the filter opens with calm.
DRONE_VOICES_HZ = (55.0, 55.35, 82.4)
DRONE_HARMONICS = 10
DRONE_CUTOFF_HZ = (110.0, 900.0)  # (cutoff of the dark loop, cutoff of the bright loop)

# Chimes: soft bells (partial ratio, relative amplitude, decay time constant s), raised-cosine attack.
CHIME_PARTIALS = ((1.0, 1.0, 1.6), (2.0, 0.35, 0.9), (2.76, 0.18, 0.6), (5.4, 0.05, 0.3))
BREATH_CHIME_HZ = 659.3  # E5: the turn of a breath
PHASE_CHIME_HZ = 440.0  # A4, longer: a new phase
BREATH_CHIME_S = 3.0
PHASE_CHIME_S = 5.0
CHIME_ATTACK_S = 0.04
CHIME_TAIL_S = 0.5  # the last half second tapers to exact zero
CHIME_PEAK_DBFS = -32.0  # at chime volume 1: well below the swell (whose RMS is -26 dBFS)


def db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def _lowpass(f: np.ndarray, cutoff: float, order: int) -> np.ndarray:
    """Butterworth magnitude responses, evaluated directly (no filter state, no edge effects)."""
    return 1.0 / np.sqrt(1.0 + (f / cutoff) ** (2 * order))


def _highpass(f: np.ndarray, cutoff: float, order: int) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return 1.0 / np.sqrt(1.0 + (cutoff / np.maximum(f, 1e-9)) ** (2 * order))


def _resonance(f: np.ndarray, centre: float, q: float) -> np.ndarray:
    ratio = np.maximum(f, 1e-9) / centre
    return 1.0 / np.sqrt(1.0 + q * q * (ratio - 1.0 / ratio) ** 2)


def _pink(f: np.ndarray) -> np.ndarray:
    return 1.0 / np.sqrt(np.maximum(f, 20.0))


def _loop_length(seconds: float, sample_rate: int) -> int:
    return fft.next_fast_len(round(seconds * sample_rate), real=True)


def _shaped(spectrum: np.ndarray, magnitude: np.ndarray, length: int, rms: float) -> np.ndarray:
    loop = fft.irfft(spectrum * magnitude, n=length)
    loop *= rms / math.sqrt(float(np.mean(loop**2)))
    return _frozen(loop)


def _frozen(loop: np.ndarray) -> np.ndarray:
    loop = np.ascontiguousarray(loop, dtype=np.float32)
    loop.flags.writeable = False  # shared between synths through the cache
    return loop


@dataclass(frozen=True)
class Beds:
    """All loops for one sample rate and seed (float32, mono, read-only)."""

    air_dark: np.ndarray
    air_bright: np.ndarray
    tone: np.ndarray
    drone_dark: np.ndarray
    drone_bright: np.ndarray
    ocean_dark: np.ndarray
    ocean_bright: np.ndarray
    rain_dark: np.ndarray
    rain_bright: np.ndarray
    wind_dark: np.ndarray
    wind_bright: np.ndarray
    breath_chime: np.ndarray
    phase_chime: np.ndarray

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.__dataclass_fields__)


@functools.lru_cache(maxsize=4)
def make_beds(sample_rate: int, seed: int) -> Beds:
    """Build (or reuse) every loop; deterministic for a given sample rate and seed."""
    rng = np.random.Generator(np.random.PCG64(seed))
    nyquist_safe = 0.45 * sample_rate

    spectrum, f, n = _white_noise(rng, BREATH_LOOP_S, sample_rate)
    air_rms = db_to_gain(BREATH_NOISE_DBFS)
    air_dark = _shaped(
        spectrum, _highpass(f, DARK_AIR_BAND_HZ[0], AIR_ORDER) * _lowpass(f, DARK_AIR_BAND_HZ[1], AIR_ORDER), n, air_rms
    )
    air_bright = _shaped(
        spectrum,
        _highpass(f, BRIGHT_AIR_BAND_HZ[0], AIR_ORDER)
        * _lowpass(f, min(BRIGHT_AIR_BAND_HZ[1], nyquist_safe), AIR_ORDER),
        n,
        air_rms,
    )

    spectrum, f, n = _white_noise(rng, OCEAN_LOOP_S, sample_rate)
    ocean_rms = db_to_gain(OCEAN_DBFS)
    ocean_dark = _shaped(
        spectrum, _pink(f) * _highpass(f, OCEAN_DARK_HZ[0], 2) * _lowpass(f, OCEAN_DARK_HZ[1], 2), n, ocean_rms
    )
    ocean_bright = _shaped(
        spectrum,
        _pink(f) * _highpass(f, OCEAN_BRIGHT_HZ[0], 2) * _lowpass(f, min(OCEAN_BRIGHT_HZ[1], nyquist_safe), 2),
        n,
        ocean_rms,
    )

    spectrum, f, n = _rain_noise(rng, sample_rate)
    rain_rms = db_to_gain(RAIN_DBFS)
    rain_dark = _shaped(spectrum, _highpass(f, RAIN_DARK_HZ[0], 2) * _lowpass(f, RAIN_DARK_HZ[1], 2), n, rain_rms)
    rain_bright = _shaped(
        spectrum, _highpass(f, RAIN_BRIGHT_HZ[0], 2) * _lowpass(f, min(RAIN_BRIGHT_HZ[1], nyquist_safe), 2), n, rain_rms
    )

    spectrum, f, n = _white_noise(rng, WIND_LOOP_S, sample_rate)
    wind_rms = db_to_gain(WIND_DBFS)
    wind_dark = _shaped(spectrum, _resonance(f, *WIND_DARK) * _lowpass(f, 1500.0, 2), n, wind_rms)
    wind_bright = _shaped(
        spectrum, _resonance(f, *WIND_BRIGHT) * _lowpass(f, min(3000.0, nyquist_safe), 2), n, wind_rms
    )
    drone_dark, drone_bright = _drone(sample_rate, rng)
    return Beds(
        air_dark,
        air_bright,
        _tone(sample_rate),
        drone_dark,
        drone_bright,
        ocean_dark,
        ocean_bright,
        rain_dark,
        rain_bright,
        wind_dark,
        wind_bright,
        chime(sample_rate, BREATH_CHIME_HZ, BREATH_CHIME_S),
        chime(sample_rate, PHASE_CHIME_HZ, PHASE_CHIME_S),
    )


def _white_noise(rng: np.random.Generator, seconds: float, sample_rate: int) -> tuple[np.ndarray, np.ndarray, int]:
    """A loop's white-noise spectrum without DC, its frequencies and its length."""
    length = _loop_length(seconds, sample_rate)
    spectrum = fft.rfft(rng.standard_normal(length))
    spectrum[0] = 0.0
    return spectrum, fft.rfftfreq(length, 1.0 / sample_rate), length


def _rain_noise(rng: np.random.Generator, sample_rate: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The rain loop's spectrum: a soft hiss with drops scattered through it."""
    n = _loop_length(RAIN_LOOP_S, sample_rate)
    hiss = rng.standard_normal(n) * math.sqrt(1.0 - RAIN_DROP_SHARE)
    drops = np.zeros(n)
    count = rng.poisson(RAIN_DROPS_PER_S * n / sample_rate)
    # Many small drops, a few larger ones, none loud: amplitudes capped at 4x the typical one.
    amplitude = np.minimum(rng.lognormal(0.0, 0.6, count), 4.0) * rng.choice((-1.0, 1.0), count)
    np.add.at(drops, rng.integers(0, n, count), amplitude)
    drops *= math.sqrt(RAIN_DROP_SHARE / float(np.mean(drops**2)))
    spectrum = fft.rfft(hiss + drops)
    spectrum[0] = 0.0
    f = fft.rfftfreq(n, 1.0 / sample_rate)
    return spectrum, f, n


def _tone(sample_rate: int) -> np.ndarray:
    t = np.arange(round(TONE_LOOP_S * sample_rate)) / sample_rate
    tone = np.sin(2 * np.pi * TONE_HZ * t) + TONE_OCTAVE_GAIN * np.sin(4 * np.pi * TONE_HZ * t)
    tone *= db_to_gain(BREATH_TONE_DBFS) / math.sqrt((1.0 + TONE_OCTAVE_GAIN**2) / 2.0)
    return _frozen(tone)


def _drone(sample_rate: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Soft band-limited saws (harmonic k at 1/k) through a 2nd-order low-pass, as a seamless loop."""
    n = round(DRONE_LOOP_S * sample_rate)
    t = np.arange(n) / sample_rate
    dark, bright = np.zeros(n), np.zeros(n)
    for voice_hz in DRONE_VOICES_HZ:
        cycles = round(voice_hz * DRONE_LOOP_S)  # whole cycles per loop: no seam
        start = rng.uniform(0.0, 2 * np.pi)
        for k in range(1, DRONE_HARMONICS + 1):
            hz = k * cycles / DRONE_LOOP_S
            if hz >= 0.45 * sample_rate:
                break
            partial = np.sin(2 * np.pi * hz * t + k * start) / k
            dark += partial * _lowpass(np.asarray(hz), DRONE_CUTOFF_HZ[0], 2)
            bright += partial * _lowpass(np.asarray(hz), DRONE_CUTOFF_HZ[1], 2)
    scale = db_to_gain(DRONE_DBFS) / math.sqrt(float(np.mean(bright**2)))
    return _frozen(dark * scale), _frozen(bright * scale)


def chime(sample_rate: int, fundamental_hz: float, seconds: float) -> np.ndarray:
    """A soft bell: decaying partials, a raised-cosine attack and a taper to exact silence."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    bell = np.zeros_like(t)
    for ratio, amplitude, decay_s in CHIME_PARTIALS:
        if ratio * fundamental_hz < 0.45 * sample_rate:
            bell += amplitude * np.exp(-t / decay_s) * np.sin(2 * np.pi * ratio * fundamental_hz * t)
    bell *= chime_envelope(t, seconds)
    bell *= db_to_gain(CHIME_PEAK_DBFS) / np.abs(bell).max()
    return _frozen(bell)


def chime_envelope(t: np.ndarray, seconds: float) -> np.ndarray:
    attack = np.clip(t / CHIME_ATTACK_S, 0.0, 1.0)
    tail = np.clip((seconds - t) / CHIME_TAIL_S, 0.0, 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * attack)) * (0.5 - 0.5 * np.cos(np.pi * tail))


def chime_step_bound(sample_rate: int, fundamental_hz: float, seconds: float) -> float:
    """The largest sample-to-sample step the bell can make on its own (|derivative| bound / rate):
    each partial a*sin(w t)*env(t) changes by at most a*(w + max|env'|) per second."""
    bell = chime(sample_rate, fundamental_hz, seconds)
    t = np.arange(len(bell)) / sample_rate
    raw = np.zeros_like(t)
    for ratio, amplitude, decay_s in CHIME_PARTIALS:
        if ratio * fundamental_hz < 0.45 * sample_rate:
            raw += amplitude * np.exp(-t / decay_s) * np.sin(2 * np.pi * ratio * fundamental_hz * t)
    scale = db_to_gain(CHIME_PEAK_DBFS) / np.abs(raw * chime_envelope(t, seconds)).max()
    envelope_rate = np.pi / (2 * CHIME_ATTACK_S) + np.pi / (2 * CHIME_TAIL_S) + 1.0 / min(p[2] for p in CHIME_PARTIALS)
    bound = sum(
        amplitude * (2 * np.pi * ratio * fundamental_hz + envelope_rate)
        for ratio, amplitude, _ in CHIME_PARTIALS
        if ratio * fundamental_hz < 0.45 * sample_rate
    )
    return float(scale * bound / sample_rate)
