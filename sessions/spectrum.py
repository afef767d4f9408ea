"""RR spectra: even resampling, Welch PSD, band powers and the coherence ratio (shared/science.md).

Method (METHOD, stated with every frequency-domain number):
1. resample_rr: the RR intervals (ms), placed at the times their beats end, are joined by a cubic
   spline (scipy.interpolate.CubicSpline, not-a-knot ends) and sampled every 1/fs s (fs = 4 Hz)
   from the first to the last beat.
2. welch_psd: scipy.signal.welch with Hann windows of 64 s, 50 % overlap, a linear detrend of each
   window, one-sided density scaling (ms^2/Hz), mean of the window periodograms. A series shorter
   than one window gives a single window of its own length. Each window is zero-padded so that
   bins lie every 1/256 Hz (at least the window length): the 0.030 Hz coherence window would
   otherwise hold a single bin of a 64 s window (bins 1/64 Hz apart). Zero-padding interpolates
   the spectrum; it keeps the total power (Parseval) and adds no resolution.
3. band_power: trapezoid integration of the PSD over the bins with lo <= f < hi, as neurokit2 does.
   LF = [0.04, 0.15) Hz, HF = [0.15, 0.40) Hz, in ms^2.

Nothing here is hand-written numerics except the bin selection and the coherence ratio below.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline
from scipy.signal import welch

LF = (0.04, 0.15)
HF = (0.15, 0.40)
FS_HZ = 4.0
WINDOW_S = 64.0
OVERLAP = 0.5
BINS_PER_HZ = 256  # zero-padding target (see the module docstring)
METHOD = (
    "cubic-spline resampling at 4 Hz, linear detrend, Welch, Hann 64 s windows, 50% overlap, "
    "zero-padded to 1/256 Hz bins, trapezoid integration"
)

COHERENCE_SEARCH = (0.04, 0.26)  # where the peak is looked for
COHERENCE_PEAK_WIDTH_HZ = 0.030  # window centred on the peak
COHERENCE_TOTAL = (0.0033, 0.40)  # the "total power" of the ratio


def resample_rr(t_s: np.ndarray, rr_ms: np.ndarray, fs: float = FS_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Cubic spline of RR (ms) at beat times (s) onto an even grid at fs Hz: (grid_t_s, rr_ms).

    Needs at least 2 beats with strictly increasing times; fewer beats give two empty arrays.
    """
    t = np.asarray(t_s, dtype=float)
    rr = np.asarray(rr_ms, dtype=float)
    if t.ndim != 1 or t.shape != rr.shape:
        raise ValueError(f"resample_rr: t_s and rr_ms must be 1-D arrays of equal length, got {t.shape} and {rr.shape}")
    if fs <= 0:
        raise ValueError(f"resample_rr: fs must be positive, got {fs!r}")
    if t.size < 2:
        return np.empty(0), np.empty(0)
    if np.any(np.diff(t) <= 0):
        raise ValueError("resample_rr: beat times must be strictly increasing")
    grid = t[0] + np.arange(int(np.floor((t[-1] - t[0]) * fs)) + 1) / fs
    return grid, CubicSpline(t, rr)(grid)


def welch_psd(
    x_ms: np.ndarray, fs: float = FS_HZ, window_s: float = WINDOW_S, overlap: float = OVERLAP
) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD of an evenly sampled RR series (ms): (freqs_hz, psd_ms2_per_hz).

    Hann windows of window_s with the given overlap, linear detrend per window; a series shorter
    than window_s is one window of its own length. Fewer than 4 samples give two empty arrays.
    """
    x = np.asarray(x_ms, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"welch_psd: expected a 1-D series, got shape {x.shape}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"welch_psd: overlap must be in [0, 1), got {overlap!r}")
    if x.size < 4:
        return np.empty(0), np.empty(0)
    nperseg = min(int(round(window_s * fs)), x.size)
    nfft = max(nperseg, int(2 ** np.ceil(np.log2(BINS_PER_HZ * fs))))
    return welch(
        x,
        fs=fs,
        window="hann",
        nperseg=nperseg,
        noverlap=int(overlap * nperseg),
        nfft=nfft,
        detrend="linear",
        scaling="density",
        average="mean",
    )


def band_power(freqs: np.ndarray, psd: np.ndarray, lo_hz: float, hi_hz: float) -> float:
    """Power (ms^2) in [lo_hz, hi_hz): trapezoid over the bins inside; 0.0 when fewer than 2 bins."""
    inside = (freqs >= lo_hz) & (freqs < hi_hz)
    return float(np.trapezoid(psd[inside], freqs[inside])) if np.count_nonzero(inside) >= 2 else 0.0


def coherence_ratio(freqs: np.ndarray, psd: np.ndarray) -> float | None:
    """Coherence ratio of an RR spectrum (the published third-party formula; HeartMath's own
    algorithm is not public, so this is not the HeartMath score):

        f_peak = frequency of the highest PSD bin in [0.04, 0.26] Hz
        peak   = power in [f_peak - 0.015, f_peak + 0.015) Hz   (a 0.030 Hz window centred on it)
        total  = power in [0.0033, 0.40) Hz                     (VLF + LF + HF, everything but ULF)
        ratio  = peak / (total - peak)

    Powers are band_power integrals of the PSD. The ratio is 0 for no peak and grows without
    bound as the spectrum concentrates in one narrow peak: a pure 0.1 Hz oscillation through
    welch_psd gives about 3.7 (the Hann main lobe is wider than 0.030 Hz), white noise about 0.09.
    None when the spectrum does not reach 0.40 Hz, holds no power, or is all peak.
    """
    freqs = np.asarray(freqs, dtype=float)
    psd = np.asarray(psd, dtype=float)
    if freqs.size < 2 or freqs[-1] < COHERENCE_TOTAL[1]:
        return None
    search = (freqs >= COHERENCE_SEARCH[0]) & (freqs <= COHERENCE_SEARCH[1])
    if not search.any():
        return None
    f_peak = freqs[search][np.argmax(psd[search])]
    half = COHERENCE_PEAK_WIDTH_HZ / 2
    peak = band_power(freqs, psd, f_peak - half, f_peak + half)
    total = band_power(freqs, psd, *COHERENCE_TOTAL)
    if total <= 0.0 or total - peak <= 0.0:
        return None
    return float(peak / (total - peak))
