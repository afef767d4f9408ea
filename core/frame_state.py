"""The immutable per-frame state: the only thing renderers, audio and the log read."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class BreathStage(str, Enum):
    INHALE = "inhale"
    HOLD_IN = "hold_in"
    EXHALE = "exhale"
    HOLD_OUT = "hold_out"


class Posture(str, Enum):
    SEATED = "seated"
    SUPINE = "supine"  # lying face-up
    PRONE = "prone"  # lying face-down, face in the cradle


@dataclass(frozen=True, slots=True)
class FrameState:
    t_s: float  # session clock, seconds since the session started
    phase_index: int
    phase_name: str
    phase_elapsed_s: float
    phase_progress: float  # 0..1; open-ended phases use their expected length
    breath_phase: float  # 0..1 position within the current breath cycle
    breath_stage: BreathStage
    breath_level: float  # 0..1 the guide's lung fill: rises on inhale, falls on exhale
    pace_bpm: float  # guided breaths per minute
    calm: float  # 0..1, smoothed, from heart rate relative to the client's baseline
    posture: Posture
    scene: str  # scene id fading in (or fully shown)
    previous_scene: str | None  # scene fading out, None when no crossfade runs
    crossfade: float  # 0..1; 1 means only `scene` is visible
    fade: float  # 0..1 master level for light and sound (fade-in, pause, gentle end)
    hr_bpm: float | None = None  # live metrics: None until their window is full
    # Until hr_bpm is there: the raw beats' median rate, for the therapist only (sessions/provisional_hr.py);
    # never logged, never used for a decision
    provisional_hr_bpm: float | None = None
    rmssd_ms: float | None = None
    sdnn_ms: float | None = None
    hf_ms2: float | None = None
    coherence: float | None = None
    breath_rate_bpm: float | None = None  # the client's breathing, estimated from RSA
    adherence: float | None = None  # 0..1, how much of the heart's rhythm follows the guided pace
    target_pace_bpm: float | None = None  # where the adaptive guide is heading
    visual_calm: float | None = None  # calm as the program's curve maps it for scenes (None: calm itself)
    brightness: float = 1.0  # the program's calm -> brightness curve, multiplies fade for light
    volume: float = 1.0  # the program's calm -> volume curve, multiplies fade for sound
    paused: bool = False
    sensor: str = "ok"  # ok, no_contact (strap reports no skin contact), lost (disconnected or silent), no_data
    # (no beat since the session began)
    ending: bool = False
    audio_layers: tuple[tuple[str, float], ...] = field(default_factory=tuple)
    breath_swell: str = "gentle"  # shape of the breathing sound's swell: gentle, even or full
    # what the client's precautions hold the picture and sound to (sessions/precautions.py)
    comfort: str = "standard"  # the comfort guard's profile: standard or photosensitive
    scene_motion: bool = True  # False: the scene's own motion stands still (only the breath and the head move)
    guidance: str = "both"  # the breathing guide: both, visual (no breath sound needed) or audio (led by sound)

    @property
    def inhaling(self) -> bool:
        return self.breath_stage is BreathStage.INHALE
