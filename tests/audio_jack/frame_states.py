"""Frame states for audio tests, with everything but the sound's inputs held still."""

from __future__ import annotations

from tidewell.core.frame_state import BreathStage, FrameState, Posture

CYCLE_S = 10.0


def make_state(
    t: float = 0.0,
    breath_level: float = 1.0,
    fade: float = 1.0,
    calm: float = 0.5,
    audio_layers: tuple[tuple[str, float], ...] = (),
    breath_stage: BreathStage = BreathStage.INHALE,
    phase_index: int = 0,
    breath_swell: str = "gentle",
    volume: float = 1.0,
) -> FrameState:
    return FrameState(
        t_s=t,
        phase_index=phase_index,
        phase_name="settle",
        phase_elapsed_s=t,
        phase_progress=0.0,
        breath_phase=(t / CYCLE_S) % 1.0,
        breath_stage=breath_stage,
        breath_level=breath_level,
        pace_bpm=60.0 / CYCLE_S,
        calm=calm,
        posture=Posture.SUPINE,
        scene="shore",
        previous_scene=None,
        crossfade=1.0,
        fade=fade,
        volume=volume,
        audio_layers=audio_layers,
        breath_swell=breath_swell,
    )
