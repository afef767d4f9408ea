"""Heart-rate and HRV metrics, offline formulas and live rolling windows (shared/science.md).

The pure functions take one uninterrupted run of NN intervals in ms: every successive
difference they form is taken to be a real pair of adjacent beats.

Live spectral values (RollingMetrics) come from tidewell.sessions.spectrum (its METHOD) applied
to the last 64 s of the corrected RR series, recomputed every 5 s of session time (on a worker
thread for wall-clock sessions; see RollingMetrics):
- hf_ms2: band_power over HF = [0.15, 0.40) Hz, ms^2.
- coherence: spectrum.coherence_ratio, peak power in a 0.030 Hz window around the highest peak
  in 0.04-0.26 Hz divided by the rest of the power in 0.0033-0.40 Hz.
- breath_rate_bpm: respiratory sinus arrhythmia makes RR oscillate at the breathing rate, so the
  breathing rate is the frequency of the highest PSD bin in [0.04, 0.40] Hz times 60 (cycles/s to
  breaths/min). The PSD is zero-padded to 1/256 Hz bins, so the estimate is quantised to
  0.23 breaths/min; the true resolution of a 64 s window is 1/64 Hz (0.94 breaths/min) for two
  competing peaks, finer for a single one. 0.04 Hz = 2.4 breaths/min, 0.40 Hz = 24 breaths/min.
- adherence: RSA power at the guided pace, band_power in [f_g - 0.015, f_g + 0.015) Hz with
  f_g = guided_pace_bpm / 60 (clipped to the RSA band), divided by band_power over [0.04, 0.40) Hz;
  0..1, None without a guided pace. A pure sine at the guided pace scores 0.76-0.86 (depending on
  where it falls between 1/64 Hz bins), not 1: the Hann main lobe of a 64 s window is +-0.031 Hz
  wide and +-0.015 Hz keeps its centre; breathing 6 breaths/min away scores under 0.01.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tidewell.sensors.correction import CorrectedBeat
from tidewell.sessions import spectrum
from tidewell.sessions.background import BackgroundJobs

NN = Sequence[float] | np.ndarray
MIN_HR_BEATS = 3  # ok beats in the HR window for a valid live HR
MIN_RMSSD_PAIRS = 10  # adjacent NN pairs in the RMSSD window for a valid live RMSSD
MIN_SDNN_BEATS = 10  # corrected beats in the SDNN window for a valid live SDNN

SPECTRAL_WINDOW_S = 64.0
SPECTRAL_EVERY_S = 5.0  # recomputed at the first snapshot at or after each multiple of 5 s
# Shortest corrected series worth a spectrum at all: one cycle of the lowest reported frequency.
MIN_SPECTRAL_SPAN_S = 25.0
# A longer hole in the window (dropout, run of removed beats) is bridged by the spline with an
# invented curve: spectral values computed over it are not valid. The trailing edge allows for
# the corrector's look-ahead (2 beats), which holds the newest beats back.
MAX_SPECTRAL_GAP_S = 6.0
RSA_BAND = (0.04, 0.40)  # breathing 2.4-24 breaths/min
ADHERENCE_HALF_WIDTH_HZ = 0.015

_log = logging.getLogger("tidewell.metrics")


def mean_hr_bpm(nn: NN) -> float | None:
    """60000 / mean(NN) (not the mean of beat-by-beat HR); None for no values."""
    nn = np.asarray(nn, dtype=float)
    return float(60000.0 / nn.mean()) if nn.size >= 1 else None


def rmssd_ms(nn: NN) -> float | None:
    """sqrt(mean(diff(NN)^2)); None for fewer than 2 values."""
    nn = np.asarray(nn, dtype=float)
    return float(np.sqrt(np.mean(np.diff(nn) ** 2))) if nn.size >= 2 else None


def sdnn_ms(nn: NN) -> float | None:
    """Sample standard deviation (ddof=1); None for fewer than 2 values."""
    nn = np.asarray(nn, dtype=float)
    return float(np.std(nn, ddof=1)) if nn.size >= 2 else None


def pnn50(nn: NN) -> float | None:
    """Percent (0-100) of successive differences over 50 ms, denominator N-1 (neurokit2 uses N);
    None for fewer than 2 values."""
    nn = np.asarray(nn, dtype=float)
    return float(100.0 * np.mean(np.abs(np.diff(nn)) > 50.0)) if nn.size >= 2 else None


def breath_rate_bpm(freqs: np.ndarray, psd: np.ndarray) -> float | None:
    """60 x the frequency of the highest PSD bin in RSA_BAND (inclusive); None without power there."""
    inside = (freqs >= RSA_BAND[0]) & (freqs <= RSA_BAND[1])
    if not inside.any() or not np.max(psd[inside]) > 0.0:
        return None
    return float(60.0 * freqs[inside][np.argmax(psd[inside])])


def adherence(freqs: np.ndarray, psd: np.ndarray, guided_pace_bpm: float) -> float | None:
    """Fraction (0..1) of RSA-band power within +-0.015 Hz of the guided pace; None without power."""
    total = spectrum.band_power(freqs, psd, *RSA_BAND)
    if not total > 0.0:
        return None
    centre = guided_pace_bpm / 60.0
    lo = max(centre - ADHERENCE_HALF_WIDTH_HZ, RSA_BAND[0])
    hi = min(centre + ADHERENCE_HALF_WIDTH_HZ, RSA_BAND[1])
    near = spectrum.band_power(freqs, psd, lo, hi) if lo < hi else 0.0
    return float(min(max(near / total, 0.0), 1.0))


_VALIDITY_FLAGS = {
    "hr_bpm": "hr_valid",
    "rmssd_ms": "rmssd_valid",
    "sdnn_ms": "sdnn_valid",
    "hf_ms2": "hf_valid",
    "coherence": "coherence_valid",
    "breath_rate_bpm": "breath_rate_valid",
    "adherence": "adherence_valid",
}


@dataclass(frozen=True, slots=True)
class LiveMetrics:
    hr_bpm: float | None  # None when the HR window holds no NN beat
    hr_valid: bool
    rmssd_ms: float | None  # None when the RMSSD window holds no NN pair
    rmssd_valid: bool
    artifact_fraction: float  # rejected / all beats in the RMSSD window; 0 when empty
    sdnn_ms: float | None = None  # None below 2 corrected beats in the SDNN window
    sdnn_valid: bool = False
    # Spectral values: None until the corrected series spans MIN_SPECTRAL_SPAN_S, then from the
    # latest 5-s recomputation (spectral_at_s: its session time).
    hf_ms2: float | None = None
    hf_valid: bool = False
    coherence: float | None = None
    coherence_valid: bool = False
    breath_rate_bpm: float | None = None
    breath_rate_valid: bool = False
    adherence: float | None = None  # None without a guided pace
    adherence_valid: bool = False
    spectral_at_s: float | None = None

    def valid(self, name: str) -> float | None:
        """The metric `name` (e.g. "sdnn_ms") once its window is full, else None."""
        return getattr(self, name) if getattr(self, _VALIDITY_FLAGS[name]) else None


@dataclass(slots=True)
class _Spectrum:
    at_s: float
    freqs: np.ndarray
    psd: np.ndarray
    valid: bool
    hf_ms2: float
    coherence: float | None
    breath_rate_bpm: float | None
    adherence_pace_bpm: float | None = None  # the pace `adherence` was computed for
    adherence: float | None = None


def spectrum_of_window(
    now_s: float, series: tuple[tuple[float, float], ...], first_t_s: float | None
) -> _Spectrum | None:
    """Spectrum of the corrected beats (t_s, rr_ms) in (now_s - 64 s, now_s]; O(window). Pure: it runs
    on RollingMetrics' worker thread or inline. None while the beats span less than 25 s."""
    if len(series) < 4 or series[-1][0] - series[0][0] < MIN_SPECTRAL_SPAN_S:
        return None
    t = np.fromiter((b[0] for b in series), float, len(series))
    rr = np.fromiter((b[1] for b in series), float, len(series))
    _, x = spectrum.resample_rr(t, rr)
    freqs, psd = spectrum.welch_psd(x)
    edges = np.concatenate(([now_s - SPECTRAL_WINDOW_S], t, [now_s]))
    full = first_t_s is not None and now_s - first_t_s >= SPECTRAL_WINDOW_S
    return _Spectrum(
        at_s=now_s,
        freqs=freqs,
        psd=psd,
        valid=full and float(np.max(np.diff(edges))) <= MAX_SPECTRAL_GAP_S,
        hf_ms2=spectrum.band_power(freqs, psd, *spectrum.HF),
        coherence=spectrum.coherence_ratio(freqs, psd),
        breath_rate_bpm=breath_rate_bpm(freqs, psd),
    )


class RollingMetrics:
    """Live HR, RMSSD, SDNN and spectral values over trailing time windows (now_s - window, now_s].

    A time-domain window is valid once data has run for the whole window since the first beat and
    the window holds enough beats (MIN_HR_BEATS ok beats, MIN_RMSSD_PAIRS NN pairs, MIN_SDNN_BEATS
    corrected beats). Metrics use the corrected series (corrected_rr_ms), as Kubios does; a beat
    with no corrected value (an extra beat merged away, out of range) breaks the chain of
    successive differences. The artifact fraction counts every beat that was not "ok" as received.

    Spectral values (see the module docstring for formulas) are recomputed by snapshot() at the
    first call at or after each multiple of SPECTRAL_EVERY_S of session time, over the corrected
    beats of the last SPECTRAL_WINDOW_S, and cached in between. They are valid once 64 s of data
    have run since the first beat and the window has no hole longer than MAX_SPECTRAL_GAP_S.
    Adherence uses the guided pace passed to snapshot(); a changed pace is re-scored from the
    cached spectrum (one band integral), not by a new recomputation.

    Running sums over deques keep add() and snapshot() O(1) amortised between recomputations,
    cheap enough for every frame; a snapshot with nothing changed returns the previous result. Beats
    must arrive in time order and snapshot times must not go backwards.

    A recomputation (spline, Welch, band integrals: milliseconds) is too slow for a 90 Hz frame. With
    background=True the snapshot that reaches a 5-s mark only hands a copy of the window to one worker
    thread, and a later snapshot takes the finished spectrum: the same numbers as inline, labelled with
    the same spectral_at_s, a frame or more later. Inline (the default) keeps a snapshot's result a
    function of the beats and times alone, which virtual-time runs, the offline tools and tests need
    to be reproducible. A recomputation that fails on the worker blanks the spectral values until
    one succeeds and is told once through drain_problems() (with its traceback in the log); inline,
    it raises. close() stops the worker; later recomputations run inline.
    """

    def __init__(
        self,
        hr_window_s: float = 10.0,
        rmssd_window_s: float = 60.0,
        sdnn_window_s: float = 60.0,
        *,
        background: bool = False,
    ):
        self.hr_window_s, self.rmssd_window_s, self.sdnn_window_s = hr_window_s, rmssd_window_s, sdnn_window_s
        self._worker = BackgroundJobs("tidewell-spectrum") if background else None
        self._problems: list[str] = []
        self._failing = False  # the last recomputation on the worker failed
        self._first_t_s: float | None = None
        self._previous: float | None = None  # corrected RR of the previous beat, None after a gap
        self._nn: deque[tuple[float, float]] = deque()  # (t_s, rr_ms) of ok beats
        self._nn_sum = 0.0
        self._sq_diffs: deque[tuple[float, float]] = deque()  # (t_s of the later beat, diff^2)
        self._sq_sum = 0.0
        self._all: deque[tuple[float, bool]] = deque()  # (t_s, rejected) of every beat
        self._rejected = 0
        # SDNN from running sums of (rr - shift): the shift (first RR) avoids cancellation in
        # sum(x^2) - sum(x)^2 / n when the spread is small next to the mean.
        self._sd: deque[tuple[float, float]] = deque()  # (t_s, rr_ms - shift) of corrected beats
        self._sd_shift: float | None = None
        self._sd_sum = 0.0
        self._sd_sq_sum = 0.0
        self._series: deque[tuple[float, float]] = deque()  # (t_s, rr_ms) of the spectral window
        self._spectrum: _Spectrum | None = None
        self._next_spectral_s = -math.inf
        # The last snapshot, handed out again while nothing it depends on has changed: most
        # 90 Hz frames fall between beats, and building the 17-field result dominates their cost.
        self._last: LiveMetrics | None = None
        self._last_key: tuple = ()
        self._changed = True  # a beat came, left a window, or the spectrum was recomputed

    def add(self, beat: CorrectedBeat) -> None:
        if self._first_t_s is None:
            self._first_t_s = beat.t_s
        self._changed = True
        artifact = beat.quality != "ok"
        self._all.append((beat.t_s, artifact))
        self._rejected += artifact
        rr = beat.corrected_rr_ms
        if rr is not None:
            self._nn.append((beat.t_s, rr))
            self._nn_sum += rr
            if self._previous is not None:
                sq = (rr - self._previous) ** 2
                self._sq_diffs.append((beat.t_s, sq))
                self._sq_sum += sq
            if self._sd_shift is None:
                self._sd_shift = rr
            x = rr - self._sd_shift
            self._sd.append((beat.t_s, x))
            self._sd_sum += x
            self._sd_sq_sum += x * x
            if not self._series or beat.t_s > self._series[-1][0]:  # the spline needs rising times
                self._series.append((beat.t_s, rr))
        self._previous = rr
        self._evict(beat.t_s)

    def snapshot(self, now_s: float, guided_pace_bpm: float | None = None) -> LiveMetrics:
        if guided_pace_bpm is not None and not (math.isfinite(guided_pace_bpm) and guided_pace_bpm > 0):
            raise ValueError(
                f"RollingMetrics.snapshot: guided_pace_bpm must be a positive number of breaths/min "
                f"or None, got {guided_pace_bpm!r}"
            )
        self._evict(now_s)
        if self._worker is not None and self._worker.busy:
            self._take_finished_spectra()
        if now_s >= self._next_spectral_s:
            self._recompute_spectrum(now_s)
            self._next_spectral_s = (math.floor(now_s / SPECTRAL_EVERY_S) + 1) * SPECTRAL_EVERY_S
        elapsed = now_s - self._first_t_s if self._first_t_s is not None else -1.0
        key = (
            elapsed >= self.hr_window_s,
            elapsed >= self.rmssd_window_s,
            elapsed >= self.sdnn_window_s,
            guided_pace_bpm,
        )
        if not self._changed and key == self._last_key and self._last is not None:
            return self._last
        hr = 60000.0 * len(self._nn) / self._nn_sum if self._nn else None
        rmssd = (max(self._sq_sum, 0.0) / len(self._sq_diffs)) ** 0.5 if self._sq_diffs else None
        n_sd = len(self._sd)
        sdnn = (max(self._sd_sq_sum - self._sd_sum**2 / n_sd, 0.0) / (n_sd - 1)) ** 0.5 if n_sd >= 2 else None
        spec = self._spectrum
        if spec is not None and guided_pace_bpm != spec.adherence_pace_bpm:
            spec.adherence_pace_bpm = guided_pace_bpm
            spec.adherence = None if guided_pace_bpm is None else adherence(spec.freqs, spec.psd, guided_pace_bpm)
        valid = spec is not None and spec.valid
        self._changed, self._last_key = False, key
        self._last = LiveMetrics(
            hr_bpm=hr,
            hr_valid=elapsed >= self.hr_window_s and len(self._nn) >= MIN_HR_BEATS,
            rmssd_ms=rmssd,
            rmssd_valid=elapsed >= self.rmssd_window_s and len(self._sq_diffs) >= MIN_RMSSD_PAIRS,
            artifact_fraction=self._rejected / len(self._all) if self._all else 0.0,
            sdnn_ms=sdnn,
            sdnn_valid=elapsed >= self.sdnn_window_s and n_sd >= MIN_SDNN_BEATS,
            hf_ms2=spec.hf_ms2 if spec else None,
            hf_valid=valid,
            coherence=spec.coherence if spec else None,
            coherence_valid=valid and spec.coherence is not None,
            breath_rate_bpm=spec.breath_rate_bpm if spec else None,
            breath_rate_valid=valid and spec.breath_rate_bpm is not None,
            adherence=spec.adherence if spec else None,
            adherence_valid=valid and spec.adherence is not None,
            spectral_at_s=spec.at_s if spec else None,
        )
        return self._last

    def _recompute_spectrum(self, now_s: float) -> None:
        self._changed = True
        self._resum_sdnn()  # drop the running sums' rounding drift while we are at it
        # A copy of the window: the frame thread goes on adding and evicting beats meanwhile.
        window = (now_s, tuple(self._series), self._first_t_s)
        if self._worker is None or not self._worker.submit(spectrum_of_window, *window):
            self._spectrum = spectrum_of_window(*window)

    def _take_finished_spectra(self) -> None:
        for job in self._worker.finished():
            self._changed = True
            error = job.exception()
            if error is None:
                self._spectrum, self._failing = job.result(), False
                continue
            self._spectrum = None  # blank, not stale
            if not self._failing:
                _log.error("live spectrum failed on the worker thread", exc_info=error)
                self._problems.append(
                    f"HF power, coherence, breathing rate and adherence are blank until the "
                    f"spectrum can be computed again: {type(error).__name__}: {error}"
                )
            self._failing = True

    def drain_problems(self) -> list[str]:
        """Failed recomputations on the worker, once each time the spectrum stops working."""
        problems = self._problems
        if problems:
            self._problems = []
        return problems

    def close(self) -> None:
        """Stop the worker thread (waits for a running recomputation); later ones run inline."""
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def _resum_sdnn(self) -> None:
        x = np.fromiter((b[1] for b in self._sd), float, len(self._sd))
        self._sd_sum, self._sd_sq_sum = float(x.sum()), float(np.dot(x, x))

    def _evict(self, now_s: float) -> None:
        hr_cut, rmssd_cut = now_s - self.hr_window_s, now_s - self.rmssd_window_s
        sdnn_cut, series_cut = now_s - self.sdnn_window_s, now_s - SPECTRAL_WINDOW_S
        sizes = len(self._nn) + len(self._sq_diffs) + len(self._all) + len(self._sd) + len(self._series)
        while self._nn and self._nn[0][0] <= hr_cut:
            self._nn_sum -= self._nn.popleft()[1]
        while self._sq_diffs and self._sq_diffs[0][0] <= rmssd_cut:
            self._sq_sum -= self._sq_diffs.popleft()[1]
        while self._all and self._all[0][0] <= rmssd_cut:
            self._rejected -= self._all.popleft()[1]
        while self._sd and self._sd[0][0] <= sdnn_cut:
            x = self._sd.popleft()[1]
            self._sd_sum -= x
            self._sd_sq_sum -= x * x
        while self._series and self._series[0][0] <= series_cut:
            self._series.popleft()
        if len(self._nn) + len(self._sq_diffs) + len(self._all) + len(self._sd) + len(self._series) != sizes:
            self._changed = True
        if not self._nn:
            self._nn_sum = 0.0  # drop accumulated rounding once a window empties
        if not self._sq_diffs:
            self._sq_sum = 0.0
        if not self._sd:
            self._sd_sum = self._sd_sq_sum = 0.0
