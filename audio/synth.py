"""The session's sound: breathing guide (air swell, soft tone, chimes) and ambient layers
(warm drone, ocean surf, rain, wind), mixed block by block from successive frame states.

Real-time design: all sound is made once at start-up (audio/beds.py: seamless loops, a dark and a
bright one per layer, and pre-rendered bells). A block only reads those loops, scales them by
linearly ramped gains and adds them into buffers allocated in __init__, using numpy ufuncs with
`out=`. There is deliberately no scipy.signal.lfilter here: it allocates its output (and its
filter state) on every call, which a sound-card callback must not do. The same code renders WAV
files, so identical frame states, block sizes and seed give identical samples.

Levels never step: every control value is slew-limited (per second) at block rate, and within a
block every gain ramps linearly from the previous block's end value to the new one.

Breath swell shapes (FrameState.breath_swell) map the guide's lung fill `level` (0..1) to sound:
the air's level in dB is -depth * (1 - level), so equal steps of lung fill sound like equal steps
of loudness; the tone's amplitude is tone_share * level (silent at an empty lung); the air's
timbre moves from its dark band to its bright band with the level.
    gentle: depth 18 dB, tone_share 0.5  (default: a soft tide)
    even:   depth 24 dB, tone_share 1.0
    full:   depth 36 dB, tone_share 1.4  (the clearest guide)
"""

from __future__ import annotations

import math

import numpy as np

from tidewell.audio import controls as c
from tidewell.audio.beds import db_to_gain, make_beds
from tidewell.audio.controls import BREATH_SWELLS, LAYERS, SWELL_NAMES
from tidewell.core.frame_state import FrameState

_INHALE = c.STAGES.index("inhale")

# Slew limits (full scale per second) of the control values.
LEVEL_SLEW = 4.0  # breath level: the guide is already eased; this only softens jumps
VOLUME_SLEW = 0.5  # layer volumes: a layer joins or leaves over 2 s
CALM_SLEW = 0.5  # brightness
MASTER_SLEW = 2.0  # fade * volume

CALM_LEVEL_DB = 4.0  # ambient layers (ocean, rain, wind) sit this much lower at calm 0 than at calm 1
OCEAN_PERIOD_S = (8.0, 12.0)  # each wave draws its own period in this range (independent of the breath)
OCEAN_FLOOR = 0.3  # level between waves, relative to a crest
OCEAN_RISE = 0.4  # share of a wave's period spent rising
WIND_GUST_PERIODS_S = (11.3, 17.9, 29.7)  # three slow sines, summed, make the gusts

_WAVES = 64  # ocean waves drawn at start-up, then cycled
_CHIME_VOICES = 4
_DEFAULT_MAX_BLOCK = 4096

# Parameter slots (slew-limited control values).
_LEVEL, _CALM, _MASTER, _VOLUME = 0, 1, 2, 3  # volumes occupy _VOLUME + LAYERS.index(layer)
# Gain rows, one per loop (in Beds order below), then the master.
(
    _AIR_DARK,
    _AIR_BRIGHT,
    _TONE,
    _DRONE_DARK,
    _DRONE_BRIGHT,
    _OCEAN_DARK,
    _OCEAN_BRIGHT,
    _RAIN_DARK,
    _RAIN_BRIGHT,
    _WIND_DARK,
    _WIND_BRIGHT,
    _MASTER_GAIN,
) = range(12)
_LOOPS = (
    "air_dark",
    "air_bright",
    "tone",
    "drone_dark",
    "drone_bright",
    "ocean_dark",
    "ocean_bright",
    "rain_dark",
    "rain_bright",
    "wind_dark",
    "wind_bright",
)
_LAYER_SLOT = {name: _VOLUME + i for i, name in enumerate(LAYERS)}
_SWELL_TABLE = tuple(BREATH_SWELLS[name] for name in SWELL_NAMES)
_unit = c._unit


class BreathSynth:
    """Renders the breathing guide and the ambient layers from successive frame states.

    Calls must come in time order from one thread; each render continues where the last ended.
    The same seed and the same sequence of (state, n) calls give identical samples.
    """

    def __init__(self, sample_rate: int = 48000, channels: int = 2, seed: int = 0, max_block: int = _DEFAULT_MAX_BLOCK):
        if not isinstance(sample_rate, (int, np.integer)) or sample_rate < 8000:
            raise ValueError(f"BreathSynth sample_rate must be an integer >= 8000 Hz, got {sample_rate!r}")
        if not isinstance(channels, (int, np.integer)) or channels < 1:
            raise ValueError(f"BreathSynth channels must be a positive integer, got {channels!r}")
        self.sample_rate = int(sample_rate)
        self.channels = int(channels)
        beds = make_beds(self.sample_rate, int(seed))
        # Each loop as (channels, frames), channel k reading the mono loop k/channels of its length
        # later (decorrelated, equally loud channels), so one numpy call serves every channel.
        self._loops = [_spread(getattr(beds, name), self.channels) for name in _LOOPS]
        self._chimes = (beds.breath_chime, beds.phase_chime)

        rng = np.random.Generator(np.random.PCG64([int(seed), 1]))  # a stream apart from the beds'
        self._wave_periods = rng.uniform(*OCEAN_PERIOD_S, _WAVES).tolist()
        self._wave_heights = rng.uniform(0.7, 1.0, _WAVES).tolist()
        self._wave_index = 0
        self._wave_phase = float(rng.uniform(0.0, 1.0))
        self._gust_phases = rng.uniform(0.0, 2 * math.pi, len(WIND_GUST_PERIODS_S)).tolist()

        self._targets = [0.0] * (_VOLUME + len(LAYERS))
        self._params = [0.0] * (_VOLUME + len(LAYERS))  # everything starts silent and ramps up
        self._rates = [LEVEL_SLEW, CALM_SLEW, MASTER_SLEW] + [VOLUME_SLEW] * len(LAYERS)
        self._gains = np.zeros(_MASTER_GAIN + 1, dtype=np.float32)  # float32 throughout: a mixed-type
        # ufunc would allocate casting buffers
        self._previous = np.zeros(_MASTER_GAIN + 1, dtype=np.float32)
        self._coefficients = np.zeros((_MASTER_GAIN + 1, 2), dtype=np.float32)
        self._audible = np.zeros(_MASTER_GAIN + 1, dtype=bool)
        self._was_audible = np.zeros(_MASTER_GAIN + 1, dtype=bool)
        self._parsed: FrameState | None = None
        self._state_controls = np.zeros(c.SIZE)
        self._started = False
        self._last_stage = None
        self._last_phase: int | None = None
        self._voice_kind = [0] * _CHIME_VOICES
        self._voice_position = [-1] * _CHIME_VOICES  # -1: free
        self._voice_gain = [0.0] * _CHIME_VOICES
        self._samples = 0
        self.chimes_started = 0
        self._allocate(max_block)

    def _allocate(self, max_block: int) -> None:
        self._max_block = max_block
        self._envelope = np.empty((_MASTER_GAIN + 1, max_block), dtype=np.float32)
        self._ramp = np.arange(1, max_block + 1, dtype=np.float32)
        self._basis = np.ones((2, max_block), dtype=np.float32)  # row 0: this block's ramp, row 1: ones
        self._acc = np.empty((self.channels, max_block), dtype=np.float32)
        self._work = np.empty(max_block, dtype=np.float32)
        # This block's stretch of every loop; rows of silent loops keep stale samples, which their
        # zero envelope cancels.
        self._segments = np.zeros((len(_LOOPS), self.channels, max_block), dtype=np.float32)

    def render(self, state: FrameState, n: int) -> np.ndarray:
        """The next n samples, float32, shape (n, channels), in [-1, 1]."""
        out = np.empty((n, self.channels), dtype=np.float32)
        self.render_into(state, out)
        return out

    def render_into(self, state: FrameState, out: np.ndarray) -> None:
        """Write the next len(out) samples for this frame state into out (shape (n, channels))."""
        if state is not self._parsed:  # a callback sees each frame's state several times
            c.controls_from_state(state, self._state_controls)
            self._parsed = state
        self.render_controls_into(self._state_controls, out)

    def render_controls_into(self, controls: np.ndarray, out: np.ndarray) -> None:
        """Write the next len(out) samples into out (shape (n, channels), float32 or float64) for a
        control vector (audio/controls.py).

        Allocates no arrays once a block of this size has been seen: safe in a sound-card callback.
        """
        n = out.shape[0]
        if n == 0:
            return
        if n > self._max_block:
            self._allocate(max(n, 2 * self._max_block))  # grows once, then stays
        dt = n / self.sample_rate
        self._read_controls(controls)
        self._slew(dt)
        self._update_gains(dt)
        self._trigger_chimes(int(controls[c.STAGE]), int(controls[c.PHASE]))

        # envelope[row] = previous + (gains - previous) * ramp, ramp = 1/n .. 1 (ends exactly on the
        # target), as one (rows x 2) @ (2 x n) product: a broadcast multiply-add would allocate
        # iterator buffers on every call.
        np.multiply(self._ramp[:n], 1.0 / n, out=self._basis[0, :n])
        np.subtract(self._gains, self._previous, out=self._coefficients[:, 0])
        self._coefficients[:, 1] = self._previous
        envelope = self._envelope[:, :n]
        np.matmul(self._coefficients, self._basis[:, :n], out=envelope)
        np.not_equal(self._gains, 0.0, out=self._audible)
        np.not_equal(self._previous, 0.0, out=self._was_audible)
        np.logical_or(self._audible, self._was_audible, out=self._audible)  # silent loops are skipped
        acc = self._acc[:, :n]
        work = self._work[:n]
        segments = self._segments[:, :, :n]
        for row, loop in enumerate(self._loops):
            if self._audible[row]:
                _copy_segment(loop, self._samples % loop.shape[1], segments[row])
        # One weighted sum over all loops: one numpy call instead of a multiply and an add per loop.
        np.einsum("ri,rci->ci", envelope[:_MASTER_GAIN], segments, out=acc)
        self._mix_chimes(acc, work, n)
        # Per channel: numpy 2.4 copies a whole contiguous operand when it broadcasts a row over it.
        for channel in range(self.channels):
            np.multiply(acc[channel], envelope[_MASTER_GAIN], out=acc[channel])
        np.minimum(acc, 1.0, out=acc)  # np.clip's Python wrapper allocates
        np.maximum(acc, -1.0, out=acc)
        out[...] = acc.T
        self._samples += n
        self._previous[:] = self._gains

    def _read_controls(self, controls: np.ndarray) -> None:
        targets = self._targets
        for layer in range(len(LAYERS)):
            targets[_VOLUME + layer] = _unit(controls[c.VOLUME + layer])
        targets[_LEVEL] = _unit(controls[c.LEVEL])
        targets[_CALM] = _unit(controls[c.CALM])
        targets[_MASTER] = _unit(controls[c.MASTER])
        swell = int(controls[c.SWELL])
        self._swell = _SWELL_TABLE[swell] if 0 <= swell < len(_SWELL_TABLE) else _SWELL_TABLE[0]
        if not self._started:
            # Timbre starts where the first block asks; only the levels ramp up from silence.
            self._params[_LEVEL] = targets[_LEVEL]
            self._params[_CALM] = targets[_CALM]
            self._started = True

    def _slew(self, dt: float) -> None:
        params, targets, rates = self._params, self._targets, self._rates
        for i in range(len(params)):
            limit = rates[i] * dt
            params[i] += max(-limit, min(limit, targets[i] - params[i]))

    def _update_gains(self, dt: float) -> None:
        p, g = self._params, self._gains
        level, calm = p[_LEVEL], p[_CALM]
        depth_db, tone_share = self._swell
        breath = p[_LAYER_SLOT["breath"]]
        air = breath * db_to_gain(-depth_db * (1.0 - level))
        g[_AIR_DARK] = air * (1.0 - level)
        g[_AIR_BRIGHT] = air * level
        g[_TONE] = breath * tone_share * level

        drone = p[_LAYER_SLOT["drone"]]
        g[_DRONE_DARK] = drone * (1.0 - calm)
        g[_DRONE_BRIGHT] = drone * calm

        ambient = db_to_gain(-CALM_LEVEL_DB * (1.0 - calm))
        swell = self._ocean_swell(dt)
        ocean = p[_LAYER_SLOT["ocean"]] * ambient * (OCEAN_FLOOR + (1.0 - OCEAN_FLOOR) * swell)
        bright = _unit(calm + 0.3 * (swell - 0.5))  # a breaking wave is brighter
        g[_OCEAN_DARK] = ocean * (1.0 - bright)
        g[_OCEAN_BRIGHT] = ocean * bright

        rain = p[_LAYER_SLOT["rain"]] * ambient
        g[_RAIN_DARK] = rain * (1.0 - calm)
        g[_RAIN_BRIGHT] = rain * calm

        gust = self._gust()
        wind = p[_LAYER_SLOT["wind"]] * ambient * (0.65 + 0.35 * gust)
        bright = _unit(calm + 0.25 * gust)  # gusts lift the whistle's pitch
        g[_WIND_DARK] = wind * (1.0 - bright)
        g[_WIND_BRIGHT] = wind * bright
        g[_MASTER_GAIN] = p[_MASTER]

    def _ocean_swell(self, dt: float) -> float:
        """0..crest height: a wave rises over OCEAN_RISE of its period and ebbs over the rest."""
        self._wave_phase += dt / self._wave_periods[self._wave_index]
        while self._wave_phase >= 1.0:
            self._wave_phase -= 1.0
            self._wave_index = (self._wave_index + 1) % _WAVES
        phase = self._wave_phase
        if phase < OCEAN_RISE:
            shape = 0.5 - 0.5 * math.cos(math.pi * phase / OCEAN_RISE)
        else:
            shape = 0.5 + 0.5 * math.cos(math.pi * (phase - OCEAN_RISE) / (1.0 - OCEAN_RISE))
        return self._wave_heights[self._wave_index] * shape

    def _gust(self) -> float:
        """-1..1, slowly varying."""
        t = self._samples / self.sample_rate
        total = 0.0
        for period, phase in zip(WIND_GUST_PERIODS_S, self._gust_phases):
            total += math.sin(2 * math.pi * t / period + phase)
        return total / len(WIND_GUST_PERIODS_S)

    def _trigger_chimes(self, stage: int, phase: int) -> None:
        last_stage, last_phase = self._last_stage, self._last_phase
        self._last_stage, self._last_phase = stage, phase
        if last_phase is None:
            return  # the first block has nothing to compare with
        volume = self._targets[_LAYER_SLOT["chime"]]
        if volume <= 0.0:
            return
        if phase != last_phase:
            self._start_chime(1, volume)
        elif last_stage == _INHALE and stage != _INHALE:  # the top of the breath
            self._start_chime(0, volume)

    def _start_chime(self, kind: int, volume: float) -> None:
        positions = self._voice_position
        voice = positions.index(-1) if -1 in positions else max(range(_CHIME_VOICES), key=positions.__getitem__)
        self._voice_kind[voice] = kind
        self._voice_position[voice] = 0
        self._voice_gain[voice] = volume
        self.chimes_started += 1

    def _mix_chimes(self, acc: np.ndarray, work: np.ndarray, n: int) -> None:
        for voice in range(_CHIME_VOICES):
            position = self._voice_position[voice]
            if position < 0:
                continue
            bell = self._chimes[self._voice_kind[voice]]
            m = min(n, len(bell) - position)
            np.multiply(bell[position : position + m], self._voice_gain[voice], out=work[:m])
            for channel in range(self.channels):
                np.add(acc[channel, :m], work[:m], out=acc[channel, :m])
            position += m
            self._voice_position[voice] = position if position < len(bell) else -1


def _spread(loop: np.ndarray, channels: int) -> np.ndarray:
    return np.stack([np.roll(loop, -(k * len(loop) // channels)) for k in range(channels)])


def _copy_segment(loop: np.ndarray, start: int, out: np.ndarray) -> None:
    n, length, done = out.shape[1], loop.shape[1], 0
    while done < n:  # at most one wrap for any block shorter than the loop
        m = min(n - done, length - start)
        np.copyto(out[:, done : done + m], loop[:, start : start + m])
        done += m
        start = 0
