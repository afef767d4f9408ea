"""`tidewell audio render`: a program's sound in virtual time, straight to a WAV file (no session logged)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tidewell.audio.output import WavOutput
from tidewell.core.clock import VirtualClock
from tidewell.core.errors import OutputFileError
from tidewell.sessions.program import Program
from tidewell.sessions.runner import SessionRunner

FRAME_RATE = 30.0


def render_program_audio(
    program: Program, out: Path, source, seed: int = 0, sample_rate: int = 48000, say: Callable[[str], None] = print
) -> float:
    """Renders until the program (and its closing fade) ends; returns the seconds rendered.
    The same program, source and seed give the same samples."""
    clock = VirtualClock()
    runner = SessionRunner(program, source, unattended=True)
    output = WavOutput(out, sample_rate=sample_rate, seed=seed, keep_free_bytes=0)
    last = 0.0
    next_report = 600.0
    try:
        while not runner.finished:
            now = clock.now()
            output.advance(runner.step(now), now - last)
            if output.failure is not None:  # here the WAV is all there is: stop with it
                raise OutputFileError(
                    f"{out}: {output.failure}; the first {output.frames_written / sample_rate:.0f} s are in it"
                )
            last = now
            if now >= next_report:
                say(f"  {now / 60:.0f} of {program.minutes:.0f} min rendered")
                next_report += 600.0
            clock.advance(1.0 / FRAME_RATE)
    finally:
        output.close()
    return last
