"""What the session loop asks of a render target, so it never asks which kind it holds.

RenderTarget: every target (a window, an offscreen framebuffer, nothing, the headset).
LiveTarget: one that shows the session to the client as it plays (the window, the headset): the
session loop (engine/session_loop.py) drives it once per frame. A target with nothing to do for a
method does nothing (a window has no runtime to wait for or to leave).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from tidewell.core.frame_state import FrameState


class RenderTarget(Protocol):
    description: str

    @property
    def closed(self) -> bool: ...

    def render(self, state: FrameState) -> None: ...

    def drain_problems(self) -> list[str]:
        """Scenes the renderer could not draw since the last call (it drew the last good one instead)."""

    def dispatch_events(self) -> None:
        """Handle the window system's events (keys, close) where the target has a window."""

    def close(self) -> None: ...


class LiveTarget(RenderTarget, Protocol):
    def wait_frame(self) -> bool:
        """Wait for the next frame where the target paces the loop (the headset's runtime); True when a
        frame was begun and render() must follow. A window answers True at once."""

    def drain_events(self) -> list[tuple[str, str]]:
        """(kind, detail) of what happened to the display since the last call, for the session log."""

    @property
    def end_request(self) -> str | None:
        """Why the display asks the session to end (a closed window, a runtime that exits), or None."""

    def as_seen(self, state: FrameState) -> FrameState:
        """The last frame as it reached the client's eyes: the scenes drawn (the safe scene for a broken
        one), and fade 0 when nothing was shown."""

    def snapshot(self, state: FrameState, size: tuple[int, int]) -> np.ndarray | None:
        """For the contact sheet: `state` at `size`; None when it comes with a later frame (ask again)."""

    def render_snapshot(self, state: FrameState, size: tuple[int, int]) -> np.ndarray:
        """For the contact sheet's last frame: `state` at `size`, drawn now."""

    def end(self) -> None:
        """Leave the display the way its runtime asks, before the session log closes."""
