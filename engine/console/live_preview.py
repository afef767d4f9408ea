"""Where the console's live view comes from in one session (engine/render/live_view.py does the work):

- a headset session: the left eye, offered by the XR target after it drew it (the GPU pass and an
  asynchronous read-back on the frame thread, the JPEG on a worker);
- a session with nothing to show it (a headless console, or no display): the frame state as the
  client would see it, drawn offscreen on a thread of its own with a GL context of its own, a few
  times a second, so the therapist still sees the scene the session is in;
- a session window: the window's frame, offered by the window target after it drew it.

The images go to the hub's memory only (ConsoleHub.live_image), never to a file, the log or an export.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from tidewell.core.frame_state import FrameState
from tidewell.engine.render.live_view import LIVE_PERIOD_S, LiveView

PREVIEW_SIZE = (640, 360)  # drawn offscreen, then scaled to the live view's width like a headset's eye
GL_SRGB8_ALPHA8 = 0x8C43  # engine/xr/swapchains.py (not imported: it loads pyopenxr)


class OffscreenPreview:
    """The latest frame state drawn offscreen every `period_s` on a thread of its own."""

    def __init__(self, on_jpeg: Callable[[bytes], None], size=PREVIEW_SIZE, period_s: float = LIVE_PERIOD_S):
        self.on_jpeg = on_jpeg
        self.size = size
        self.period_s = period_s
        self.problems: list[str] = []
        self._latest: FrameState | None = None  # a single reference swap from the frame thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tidewell-live-preview", daemon=True)
        self._thread.start()

    def frame(self, state: FrameState) -> None:
        self._latest = state

    def _run(self) -> None:
        from tidewell.engine.render.targets import OffscreenTarget

        try:
            target = OffscreenTarget(self.size)
        except Exception as error:  # no EGL: no live view, the session goes on
            self.problems.append(f"live view off: no offscreen rendering ({type(error).__name__}: {error})")
            return
        try:
            # Every render is read back (period 0): this thread keeps the pace; each image is mapped
            # at the next render, a period later.
            live = target.live_view = LiveView(target.ctx, period_s=0.0, on_jpeg=self.on_jpeg)
            while not self._stop.wait(self.period_s) and live.enabled:
                state = self._latest
                if state is not None:
                    target.render(state)
                    target.drain_problems()  # the session's own target, if any, reports the scene's
            self.problems.extend(live.drain_problems())
        except Exception as error:
            self.problems.append(f"live view off: {type(error).__name__}: {error}")
        finally:
            target.close()  # closes the live view: its worker is joined

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)


class SessionLiveView:
    """The live view of one console session; `close()` after the session, before it is reported ended."""

    def __init__(self, on_jpeg: Callable[[bytes], None], target: str, headless: bool):
        self.on_jpeg = on_jpeg
        self._headset_view: LiveView | None = None
        self._window_view: LiveView | None = None
        shown = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        wants_preview = target != "xr" and (headless or not shown)
        self._preview = OffscreenPreview(on_jpeg) if wants_preview else None

    def frame(self, state: FrameState) -> None:
        if self._preview is not None:
            self._preview.frame(state)

    def attach_headset(self, headset) -> None:
        """RunOptions.on_headset: the XR target offers its left eye; it closes the live view itself."""
        srgb = getattr(headset, "color_format", None) == GL_SRGB8_ALPHA8
        headset.live_view = self._headset_view = LiveView(headset.ctx, on_jpeg=self.on_jpeg, srgb_source=srgb)

    def attach_window(self, window) -> None:
        """RunOptions.on_window: the window target offers each frame it drew; it closes the live view itself."""
        window.live_view = self._window_view = LiveView(window.ctx, on_jpeg=self.on_jpeg)

    def close(self) -> list[str]:
        """Stops it; what went wrong, as messages for the terminal."""
        problems = []
        if self._preview is not None:
            self._preview.close()
            problems += self._preview.problems
        for view in (self._headset_view, self._window_view):
            if view is not None:
                view.close()  # already closed with its target, normally
                problems += view.drain_problems()
        return problems
