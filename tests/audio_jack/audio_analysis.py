"""Measurements on rendered or captured audio: envelope, breath timing, steps (clicks), spectrum.

Times are seconds from the first sample unless a function says otherwise. Envelopes are in dB
of the mean power of all channels, so a level change shows as the same shift whatever its cause.
"""

from __future__ import annotations

import numpy as np
from scipy import signal

SILENCE = 1e-12


def mono_power(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    return audio**2 if audio.ndim == 1 else np.mean(audio**2, axis=1)


def envelope_db(
    audio: np.ndarray, sample_rate: int, hop_s: float = 0.001, window_s: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """(times, dB): mean power over `window_s` every `hop_s`; times are window centres."""
    hop = max(1, round(hop_s * sample_rate))
    power = mono_power(audio)
    bins = len(power) // hop
    binned = power[: bins * hop].reshape(bins, hop).mean(axis=1)
    width = max(1, round(window_s / hop_s))
    smoothed = np.convolve(binned, np.ones(width) / width, mode="valid")
    times = (np.arange(len(smoothed)) * hop + width * hop / 2.0) / sample_rate
    return times, 10.0 * np.log10(smoothed + SILENCE)


def binned_power(chunks, sample_rate: int, hop_s: float = 0.001) -> np.ndarray:
    """Mean power per hop from an iterable of audio chunks (for files too long to hold)."""
    hop = max(1, round(hop_s * sample_rate))
    out, rest = [], np.zeros(0)
    for chunk in chunks:
        power = np.concatenate([rest, mono_power(chunk)])
        bins = len(power) // hop
        out.append(power[: bins * hop].reshape(bins, hop).mean(axis=1))
        rest = power[bins * hop :]
    return np.concatenate(out) if out else np.zeros(0)


def envelope_from_bins(
    binned: np.ndarray, hop_s: float = 0.001, window_s: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    width = max(1, round(window_s / hop_s))
    smoothed = np.convolve(binned, np.ones(width) / width, mode="valid")
    return (np.arange(len(smoothed)) + width / 2.0) * hop_s, 10.0 * np.log10(smoothed + SILENCE)


def moving_average(values: np.ndarray, width: int) -> np.ndarray:
    width = max(1, int(width))
    padded = np.pad(values, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def rising_crossings(times: np.ndarray, values: np.ndarray, threshold: float, hysteresis: float) -> np.ndarray:
    """Times `values` rises through `threshold` (linearly interpolated), counting a rise only after
    the signal has been below threshold - hysteresis since the previous one."""
    crossings, armed = [], False
    low = threshold - hysteresis
    for i in range(1, len(values)):
        if values[i] < low:
            armed = True
        elif armed and values[i - 1] < threshold <= values[i]:
            fraction = (threshold - values[i - 1]) / (values[i] - values[i - 1])
            crossings.append(times[i - 1] + fraction * (times[i] - times[i - 1]))
            armed = False
    return np.asarray(crossings)


def envelope_breath_periods(
    times: np.ndarray, env_db: np.ndarray, start_s: float, end_s: float, smooth_s: float = 0.25
) -> tuple[np.ndarray, np.ndarray]:
    """Breath-to-breath periods of an envelope between start_s and end_s, from the times it rises
    through the middle (in dB) of its own range there. Returns (crossing times, periods)."""
    inside = (times >= start_s) & (times <= end_s)
    t, env = times[inside], env_db[inside]
    hop = float(np.median(np.diff(t)))
    env = moving_average(env, round(smooth_s / hop))
    low, high = np.percentile(env, [5, 95])
    middle = (low + high) / 2.0
    crossings = rising_crossings(t, env, middle, hysteresis=(high - low) / 4.0)
    return crossings, np.diff(crossings)


def level_rising_crossings(times: np.ndarray, levels: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    return rising_crossings(np.asarray(times), np.asarray(levels), threshold, hysteresis=0.2)


def breath_peak_times(times: np.ndarray, levels: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """Time of the fullest lung in every complete breath cycle (cycles split where the breath
    phase wraps); within a hold at full, the middle of the hold."""
    times, levels, phases = (np.asarray(a, dtype=np.float64) for a in (times, levels, phases))
    starts = np.flatnonzero(np.diff(phases) < -0.5) + 1
    peaks = []
    for a, b in zip(starts[:-1], starts[1:]):
        cycle = levels[a:b]
        top = np.flatnonzero(cycle >= cycle.max() - 1e-6)
        peaks.append((times[a + top[0]] + times[a + top[-1]]) / 2.0)
    return np.asarray(peaks)


def lag_at(
    centre_s: float,
    times: np.ndarray,
    measured_db: np.ndarray,
    reference_db: np.ndarray,
    half_window_s: float = 2.5,
    max_lag_s: float = 0.15,
) -> float:
    """How much later (seconds) `measured` follows `reference` around centre_s: the shift that
    best correlates the two envelopes (both on the same time grid `times`), to a fraction of a hop.
    Smooth the envelopes first (smooth_db); a window reaching into both flanks of a breath pins
    the shift far better than the flat top alone."""
    hop = float(times[1] - times[0])
    centre = int(round((centre_s - times[0]) / hop))
    half, reach = int(round(half_window_s / hop)), int(round(max_lag_s / hop))
    if centre - half - reach < 0 or centre + half + reach >= len(times):
        return float("nan")
    reference = reference_db[centre - half : centre + half + 1]
    reference = reference - reference.mean()
    scores = np.empty(2 * reach + 1)
    for k, shift in enumerate(range(-reach, reach + 1)):
        window = measured_db[centre - half + shift : centre + half + 1 + shift]
        window = window - window.mean()
        scores[k] = np.dot(window, reference) / (np.linalg.norm(window) * np.linalg.norm(reference) + SILENCE)
    best = int(np.argmax(scores))
    offset = 0.0
    if 0 < best < len(scores) - 1:
        a, b, c = scores[best - 1 : best + 2]
        denominator = a - 2 * b + c
        offset = 0.5 * (a - c) / denominator if denominator < 0 else 0.0
    return (best - reach + offset) * hop


def smooth_db(env_db: np.ndarray, hop_s: float = 0.001, smooth_s: float = 0.2) -> np.ndarray:
    return moving_average(env_db, round(smooth_s / hop_s))


def step_sizes(audio: np.ndarray) -> np.ndarray:
    """|sample-to-sample change|, the largest over channels: entry i is the step from sample i to i + 1."""
    audio = np.asarray(audio, dtype=np.float64)
    if len(audio) < 2:
        return np.zeros(0)
    steps = np.abs(np.diff(audio, axis=0))
    return steps.max(axis=1) if steps.ndim > 1 else steps


def max_step(audio: np.ndarray) -> float:
    """Largest |sample-to-sample change| in any channel."""
    steps = step_sizes(audio)
    return float(steps.max()) if len(steps) else 0.0


def max_step_near(audio: np.ndarray, sample_rate: int, centre_s: float, half_window_s: float = 1.0) -> float:
    a = max(0, int((centre_s - half_window_s) * sample_rate))
    b = min(len(audio), int((centre_s + half_window_s) * sample_rate))
    return max_step(audio[a:b])


def largest_step_near(steps: np.ndarray, sample_rate: int, centre_s: float, half_window_s: float = 1.0) -> float:
    """max_step_near over step_sizes() already computed (and perhaps with some steps excused)."""
    a = max(0, int((centre_s - half_window_s) * sample_rate))
    b = min(len(steps), int((centre_s + half_window_s) * sample_rate))
    return float(steps[a:b].max()) if b > a else 0.0


def rms_dbfs(audio: np.ndarray) -> float:
    return float(10.0 * np.log10(np.mean(mono_power(audio)) + SILENCE))


def spectral_centroid_hz(audio: np.ndarray, sample_rate: int) -> float:
    x = np.asarray(audio, dtype=np.float64)
    x = x.mean(axis=1) if x.ndim > 1 else x
    freqs, psd = signal.welch(x, fs=sample_rate, nperseg=8192)
    band = freqs >= 20.0
    return float(np.sum(freqs[band] * psd[band]) / (np.sum(psd[band]) + SILENCE))


def first_sound_index(audio: np.ndarray, threshold: float = 1e-4) -> int | None:
    loud = (
        np.flatnonzero(np.max(np.abs(np.asarray(audio)), axis=1) > threshold)
        if np.ndim(audio) > 1
        else np.flatnonzero(np.abs(np.asarray(audio)) > threshold)
    )
    return int(loud[0]) if len(loud) else None
