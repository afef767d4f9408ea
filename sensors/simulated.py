"""A simulated client who follows the breathing guide: the heart behind tests and demos."""

from __future__ import annotations

import math

import numpy as np

from tidewell.sensors.source import RawRR

NOISE_AR = 0.5  # lag-1 autocorrelation of the beat-to-beat noise
# Baroreflex resonance: the heart's response to breathing peaks near 0.1 Hz (6 breaths/min),
# so slow guided breathing swings RR more than fast breathing (Lehrer & Gevirtz 2014).
RESONANCE_HZ = 0.1
RESONANCE_DAMPING = 0.35
RSA_LAG_S = 1.0  # vagal response lag
ECTOPIC_PREMATURITY = 0.3  # a premature beat comes ~30% early; the next beat makes up the time


class SimulatedHeart:
    """RR = 60000 / HR(t) + RSA + AR(1) noise, with occasional premature/compensatory pairs.

    HR relaxes exponentially from start_hr to relaxed_hr with time constant relax_tau_s.
    RSA follows the breath level passed to poll() (1 s lag): a full lung shortens RR and an empty
    lung lengthens it, so RR correlates negatively with breath level. The swing is rsa_ms at the
    0.1 Hz resonance and falls off with a damped-resonance curve of the breathing rate, which is
    measured from the rising crossings of the breath level (about half as large at 10 breaths/min).
    The same seed and the same sequence of poll() calls give the same beats.
    """

    name = "simulated"

    def __init__(
        self,
        seed: int = 0,
        start_hr: float = 76.0,
        relaxed_hr: float = 63.0,
        relax_tau_s: float = 900.0,
        rsa_ms: float = 110.0,
        noise_ms: float = 20.0,
        ectopic_rate: float = 0.006,
        resonance_bpm: float = 6.0,
    ):
        for label, hr in (("start_hr", start_hr), ("relaxed_hr", relaxed_hr)):
            if not 35.0 <= hr <= 180.0:
                raise ValueError(f"{label}={hr} bpm is outside the simulated range 35-180 bpm")
        if relax_tau_s <= 0 or rsa_ms < 0 or noise_ms < 0 or not 0.0 <= ectopic_rate < 0.5:
            raise ValueError("need relax_tau_s > 0, rsa_ms >= 0, noise_ms >= 0, 0 <= ectopic_rate < 0.5")
        self.start_hr, self.relaxed_hr, self.relax_tau_s = start_hr, relaxed_hr, relax_tau_s
        self.rsa_ms, self.noise_ms, self.ectopic_rate = rsa_ms, noise_ms, ectopic_rate
        self.resonance_hz = resonance_bpm / 60.0  # this client's own resonance frequency
        self.description = (
            f"simulated heart (seed {seed}): {start_hr:g} -> {relaxed_hr:g} bpm, "
            f"tau {relax_tau_s:g} s, RSA {rsa_ms:g} ms, noise {noise_ms:g} ms, ectopic {ectopic_rate:g}/beat"
        )
        self._rng = np.random.default_rng(seed)
        self._noise = 0.0
        self._breath: float | None = None  # lagged breath level
        self._gain = 1.0  # resonance gain at the measured breathing rate
        self._last_rise_s: float | None = None
        self._last_level = 0.5
        self._last_poll_s = 0.0
        self._last_beat_s = 0.0
        self._pending_ms = 0.0  # time a premature beat took early, added to the next beat
        self._next_rr_ms: float | None = None
        self._ectopic_times: list[float] = []

    @property
    def finished(self) -> bool:
        return False

    @property
    def ectopic_times_s(self) -> tuple[float, ...]:
        """End times of the premature beats injected so far (ground truth for cleaners)."""
        return tuple(self._ectopic_times)

    def heart_rate_bpm(self, t_s: float) -> float:
        """The relaxation trend, without RSA or noise."""
        return self.relaxed_hr + (self.start_hr - self.relaxed_hr) * math.exp(-t_s / self.relax_tau_s)

    def poll(self, now_s: float, breath_level: float) -> list[RawRR]:
        self._follow_breath(now_s, min(max(breath_level, 0.0), 1.0))
        beats: list[RawRR] = []
        while True:
            if self._next_rr_ms is None:
                self._next_rr_ms = self._draw_rr()
            end_s = self._last_beat_s + self._next_rr_ms / 1000.0
            if end_s > now_s:
                return beats
            beats.append(RawRR(end_s, self._next_rr_ms))
            self._last_beat_s, self._next_rr_ms = end_s, None

    def drain_status(self) -> list:
        return []  # a simulated heart: nothing to say about itself

    def drain_packets(self) -> list[tuple[float, bytes]]:
        return []

    def stop(self) -> None:
        pass

    def _follow_breath(self, now_s: float, level: float) -> None:
        if self._breath is None:
            self._breath = level
        else:
            if self._last_level < 0.5 <= level:
                if self._last_rise_s is not None and now_s > self._last_rise_s:
                    self._gain = resonance_gain(1.0 / (now_s - self._last_rise_s), self.resonance_hz)
                self._last_rise_s = now_s
            dt = max(now_s - self._last_poll_s, 0.0)
            self._breath += (level - self._breath) * (1.0 - math.exp(-dt / RSA_LAG_S))
        self._last_level = level
        self._last_poll_s = max(now_s, self._last_poll_s)

    def _draw_rr(self) -> float:
        """The next beat's RR, decided when it starts, i.e. when the previous beat ends."""
        eps, u = self._rng.standard_normal(), self._rng.random()  # always both: a steady stream
        self._noise = NOISE_AR * self._noise + math.sqrt(1.0 - NOISE_AR**2) * self.noise_ms * eps
        rr = 60000.0 / self.heart_rate_bpm(self._last_beat_s)
        rr += -self.rsa_ms * self._gain * (self._breath - 0.5) + self._noise
        if self._pending_ms:
            rr, self._pending_ms = rr + self._pending_ms, 0.0
        elif u < self.ectopic_rate:
            self._pending_ms = ECTOPIC_PREMATURITY * rr
            rr -= self._pending_ms
            self._ectopic_times.append(self._last_beat_s + rr / 1000.0)
        return rr


def resonance_gain(breath_hz: float, resonance_hz: float = RESONANCE_HZ) -> float:
    """Band-pass response at `breath_hz`, peaking at exactly 1.0 at `resonance_hz`
    (quality factor 1 / (2 * RESONANCE_DAMPING))."""
    r = breath_hz / resonance_hz
    q = 1.0 / (2.0 * RESONANCE_DAMPING)
    return 1.0 / math.sqrt(1.0 + (q * (r - 1.0 / r)) ** 2)
