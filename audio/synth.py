"""Breathing-guide sound: soft surf-like noise and a warm tone that swell with the guide's breath.

Hand-written block synthesis on purpose: the sound card callback asks for a few hundred samples
at a time and must get them within milliseconds, so every block is plain numpy on buffers made
once, with filter state (lfilter zi), oscillator phases and envelope end values carried from one
block to the next. Each block ramps every level linearly from the previous block's end value to
the new frame's target, so a jump in the frame state never becomes a click.
"""
from __future__ import annotations

import math

import numpy as np
from scipy import signal

from tidewell.engine.frame_state import FrameState

# Levels at full breath, layer volume 1 and fade 1 (dBFS, RMS of one channel).
BREATH_NOISE_DBFS = -26.0
BREATH_TONE_DBFS = -36.0
DRONE_DBFS = -32.0
# How far below full the surf sinks at an empty lung (the warm tone goes fully silent there).
BREATH_FLOOR_DB = -24.0

# Air and surf: noise through two gentle band-passes; the brighter one takes over as the lung fills.
DARK_AIR_BAND_HZ = (100.0, 550.0)
BRIGHT_AIR_BAND_HZ = (200.0, 1200.0)
AIR_FILTER_ORDER = 3  # 18 dB/octave skirts: no hiss above the band
TONE_HZ = 110.0  # A2, with a soft octave above
TONE_OCTAVE_GAIN = 0.3

# Drone: three slow voices (A1, a slightly detuned A1, E2) low-passed; the filter opens with calm.
DRONE_VOICES_HZ = (55.0, 55.35, 82.41)
DRONE_HARMONICS = 10
DRONE_CUTOFF_HZ = (110.0, 900.0)  # (cutoff at calm 0, cutoff at calm 1)

_WAVETABLE_SIZE = 2048
_DEFAULT_MAX_BLOCK = 4096

# Rows of the envelope matrix, in order.
_BREATH_AMP, _BREATH_BRIGHT, _TONE_AMP, _DRONE_AMP, _DRONE_BRIGHT, _MASTER = range(6)
_ENVELOPES = 6


def _unit(value: float) -> float:
    """Clamp to 0..1; NaN counts as 0 so a bad frame value goes quiet instead of loud."""
    if not value == value:  # NaN
        return 0.0
    return min(1.0, max(0.0, float(value)))


def _db_to_gain(db: float) -> float:
    return 10.0 ** (db / 20.0)


def _noise_gain(b: np.ndarray, a: np.ndarray) -> float:
    """RMS of the filter's output for unit-RMS white noise (from its impulse response)."""
    impulse = np.zeros(1 << 16)
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(signal.lfilter(b, a, impulse) ** 2)))


def _harmonic_table(harmonics: int) -> np.ndarray:
    """One period of a soft, band-limited saw (harmonic k at 1/k), normalised to unit RMS,
    with the first sample repeated at the end for interpolation."""
    phase = np.arange(_WAVETABLE_SIZE + 1) / _WAVETABLE_SIZE
    table = np.zeros(_WAVETABLE_SIZE + 1)
    for k in range(1, harmonics + 1):
        table += np.sin(2.0 * np.pi * k * phase) / k
    return table / np.sqrt(np.mean(table[:-1] ** 2))


class BreathSynth:
    """Renders the breathing guide and drone layers from successive frame states.

    Calls must come in time order from one thread; each render continues where the last ended.
    The same seed and the same sequence of (state, n) calls give identical samples.
    """

    def __init__(self, sample_rate: int = 48000, channels: int = 2, seed: int = 0,
                 max_block: int = _DEFAULT_MAX_BLOCK):
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
            raise ValueError(f"BreathSynth sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
        if not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ValueError(f"BreathSynth channels must be a positive integer, got {channels!r}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        self._rng = np.random.Generator(np.random.PCG64(seed))

        nyquist_safe = 0.45 * sample_rate
        self._dark_air = signal.butter(AIR_FILTER_ORDER, DARK_AIR_BAND_HZ, btype="bandpass", fs=sample_rate)
        self._bright_air = signal.butter(
            AIR_FILTER_ORDER, (BRIGHT_AIR_BAND_HZ[0], min(BRIGHT_AIR_BAND_HZ[1], nyquist_safe)),
            btype="bandpass", fs=sample_rate)
        self._dark_air_gain = _db_to_gain(BREATH_NOISE_DBFS) / _noise_gain(*self._dark_air)
        self._bright_air_gain = _db_to_gain(BREATH_NOISE_DBFS) / _noise_gain(*self._bright_air)
        self._dark_air_zi = np.zeros((len(self._dark_air[1]) - 1, channels))
        self._bright_air_zi = np.zeros((len(self._bright_air[1]) - 1, channels))

        self._drone_dark = signal.butter(2, DRONE_CUTOFF_HZ[0], btype="lowpass", fs=sample_rate)
        self._drone_bright = signal.butter(2, DRONE_CUTOFF_HZ[1], btype="lowpass", fs=sample_rate)
        self._drone_dark_zi = np.zeros(len(self._drone_dark[1]) - 1)
        self._drone_bright_zi = np.zeros(len(self._drone_bright[1]) - 1)
        self._table = _harmonic_table(DRONE_HARMONICS)
        # Voices are summed then scaled so the bright (fully open) drone sits near DRONE_DBFS.
        self._drone_gain = _db_to_gain(DRONE_DBFS) / math.sqrt(len(DRONE_VOICES_HZ))
        self._drone_phase = np.zeros(len(DRONE_VOICES_HZ))
        self._drone_step = np.asarray(DRONE_VOICES_HZ) / sample_rate

        tone_rms = math.sqrt((1.0 + TONE_OCTAVE_GAIN**2) / 2.0)
        self._tone_gain = _db_to_gain(BREATH_TONE_DBFS) / tone_rms
        self._tone_phase = 0.0
        self._tone_step = TONE_HZ / sample_rate

        self._previous = np.zeros(_ENVELOPES)  # everything starts silent and ramps up
        self._started = False
        self._allocate(max_block)

    def _allocate(self, max_block: int) -> None:
        self._max_block = max_block
        self._noise = np.empty((max_block, self.channels))
        self._mix = np.empty(max_block)
        self._stereo = np.empty((max_block, self.channels))
        self._envelope = np.empty((_ENVELOPES, max_block))
        self._ramp = np.empty(max_block)
        self._counts = np.arange(1, max_block + 1, dtype=np.float64)
        self._phase = np.empty(max_block)
        self._work = np.empty(max_block)
        self._index = np.empty(max_block, dtype=np.intp)

    def render(self, state: FrameState, n: int) -> np.ndarray:
        """The next n samples, float32, shape (n, channels), in [-1, 1]."""
        out = np.empty((n, self.channels), dtype=np.float32)
        self.render_into(state, out)
        return out

    def render_into(self, state: FrameState, out: np.ndarray) -> None:
        """Write the next len(out) samples into out (shape (n, channels), float32 or float64)."""
        n = out.shape[0]
        if n == 0:
            return
        if n > self._max_block:
            self._allocate(max(n, 2 * self._max_block))  # grows once, then stays
        targets = self._targets(state)
        if not self._started:
            # Timbre starts where the first frame asks; only the levels ramp up from silence.
            self._previous[_BREATH_BRIGHT] = targets[_BREATH_BRIGHT]
            self._previous[_DRONE_BRIGHT] = targets[_DRONE_BRIGHT]
            self._started = True
        envelope = self._ramped_envelopes(targets, n)

        stereo = self._stereo[:n]
        stereo.fill(0.0)
        self._add_air(envelope, stereo, n)
        mono = self._mix[:n]
        mono.fill(0.0)
        self._add_tone(envelope[_TONE_AMP], mono, n)
        self._add_drone(envelope, mono, n)
        stereo += mono[:, None]
        stereo *= envelope[_MASTER][:, None]
        np.clip(stereo, -1.0, 1.0, out=stereo)
        out[...] = stereo
        self._previous[:] = targets

    def _targets(self, state: FrameState) -> np.ndarray:
        volumes = {"breath": 1.0}
        for name, volume in state.audio_layers:
            volumes[name] = _unit(volume)  # names are validated by the program loader
        breath = _unit(state.breath_level)
        breath_volume = volumes["breath"]
        drone_volume = volumes.get("drone", 0.0)
        targets = np.empty(_ENVELOPES)
        targets[_BREATH_AMP] = breath_volume * _db_to_gain(BREATH_FLOOR_DB * (1.0 - breath))
        targets[_BREATH_BRIGHT] = breath
        targets[_TONE_AMP] = breath_volume * breath * self._tone_gain
        targets[_DRONE_AMP] = drone_volume * self._drone_gain
        targets[_DRONE_BRIGHT] = _unit(state.calm)
        targets[_MASTER] = _unit(state.fade * state.volume)
        return targets

    def _ramped_envelopes(self, targets: np.ndarray, n: int) -> np.ndarray:
        ramp = self._ramp[:n]
        np.multiply(self._counts[:n], 1.0 / n, out=ramp)  # 1/n .. 1: ends exactly on the target
        envelope = self._envelope[:, :n]
        np.multiply((targets - self._previous)[:, None], ramp[None, :], out=envelope)
        envelope += self._previous[:, None]
        return envelope

    def _add_air(self, envelope: np.ndarray, stereo: np.ndarray, n: int) -> None:
        noise = self._noise[:n]
        self._rng.standard_normal(out=noise)
        dark, self._dark_air_zi = signal.lfilter(*self._dark_air, noise, axis=0, zi=self._dark_air_zi)
        bright, self._bright_air_zi = signal.lfilter(*self._bright_air, noise, axis=0, zi=self._bright_air_zi)
        weight = envelope[_BREATH_BRIGHT]
        amp = envelope[_BREATH_AMP]
        work = self._work[:n]
        np.multiply(1.0 - weight, amp, out=work)
        work *= self._dark_air_gain
        stereo += dark * work[:, None]
        np.multiply(weight, amp, out=work)
        work *= self._bright_air_gain
        stereo += bright * work[:, None]

    def _add_tone(self, amp: np.ndarray, mono: np.ndarray, n: int) -> None:
        phase = self._phase[:n]
        np.multiply(self._counts[:n], self._tone_step, out=phase)
        phase += self._tone_phase
        self._tone_phase = (self._tone_phase + n * self._tone_step) % 1.0
        phase *= 2.0 * np.pi
        work = self._work[:n]
        np.sin(phase, out=work)
        work *= amp
        mono += work
        phase *= 2.0
        np.sin(phase, out=work)
        work *= amp
        work *= TONE_OCTAVE_GAIN
        mono += work

    def _add_drone(self, envelope: np.ndarray, mono: np.ndarray, n: int) -> None:
        amp = envelope[_DRONE_AMP]
        if not amp.any():
            self._advance_drone(n)
            return
        voices = self._noise[:n, 0]  # free scratch: the air is already mixed in
        voices.fill(0.0)
        phase, index, work = self._phase[:n], self._index[:n], self._work[:n]
        for voice, step in enumerate(self._drone_step):
            np.multiply(self._counts[:n], step, out=phase)
            phase += self._drone_phase[voice]
            np.mod(phase, 1.0, out=phase)
            phase *= _WAVETABLE_SIZE
            np.floor(phase, out=work)
            index[:] = work
            phase -= work  # fractional position between table entries
            np.subtract(self._table[index + 1], self._table[index], out=work)
            work *= phase
            work += self._table[index]
            voices += work
        self._drone_phase = (self._drone_phase + n * self._drone_step) % 1.0
        dark, self._drone_dark_zi = signal.lfilter(*self._drone_dark, voices, zi=self._drone_dark_zi)
        bright, self._drone_bright_zi = signal.lfilter(*self._drone_bright, voices, zi=self._drone_bright_zi)
        weight = envelope[_DRONE_BRIGHT]
        np.multiply(bright - dark, weight, out=work)
        work += dark
        work *= amp
        mono += work

    def _advance_drone(self, n: int) -> None:
        # A muted drone keeps its phases running so unmuting does not restart the waveform; its
        # filters are left to rest (the output was silent, so nothing audible is lost).
        self._drone_phase = (self._drone_phase + n * self._drone_step) % 1.0
