"""The OpenXR session's lifecycle as the runtime reports it, and what the session log hears of it.

READY begins the session, STOPPING ends it, EXITING and LOSS_PENDING end it for good. The runtime
shows the session only in VISIBLE and FOCUSED: leaving those (the headset was taken off, or the
runtime hid the session) is reported as "headset_off", coming back as "headset_on". A runtime that
goes away (instance or session lost) is reported once as "xr_lost".
"""

from __future__ import annotations

import ctypes
from collections import deque


class SessionStates:
    def __init__(self, xr):
        self._xr = xr
        self.session = None  # set once the OpenXR session exists
        self.state = "IDLE"
        self.running = False  # between READY and STOPPING: the runtime wants frames
        self.exiting = False
        self.shown = False
        self._ever_shown = False
        self.lost: str | None = None
        self.recenter_wanted = False  # the user recentred through the runtime's own menu
        self._events: deque[tuple[str, str]] = deque()

    def poll(self, instance) -> None:
        """Take every event the runtime has queued."""
        xr = self._xr
        if self.lost is not None or instance is None:
            return
        while True:
            try:
                event = xr.poll_event(instance)
            except xr.EventUnavailable:
                return
            except xr.exception.XrException as error:
                self.lose(error)
                return
            kind = xr.StructureType(event.type)
            if kind == xr.StructureType.EVENT_DATA_SESSION_STATE_CHANGED:
                changed = ctypes.cast(ctypes.byref(event), ctypes.POINTER(xr.EventDataSessionStateChanged)).contents
                self.on_state(xr.SessionState(changed.state))
            elif kind == xr.StructureType.EVENT_DATA_INSTANCE_LOSS_PENDING:
                self.lose("the runtime is shutting down (instance loss pending)")
                return
            elif kind == xr.StructureType.EVENT_DATA_REFERENCE_SPACE_CHANGE_PENDING:
                self.recenter_wanted = True

    def on_state(self, state) -> None:
        xr = self._xr
        self.state = state.name
        self._events.append(("xr_state", state.name))
        try:
            if state == xr.SessionState.READY:
                xr.begin_session(
                    self.session,
                    xr.SessionBeginInfo(primary_view_configuration_type=xr.ViewConfigurationType.PRIMARY_STEREO),
                )
                self.running = True
            elif state == xr.SessionState.STOPPING:
                self.running = False
                xr.end_session(self.session)
            elif state == xr.SessionState.EXITING:
                self.running = False
                self.exiting = True
            elif state == xr.SessionState.LOSS_PENDING:
                self.lose("the runtime lost the session (LOSS_PENDING)")
        except xr.exception.XrException as error:
            self.lose(error)
        self._show(state in (xr.SessionState.VISIBLE, xr.SessionState.FOCUSED), state.name)

    def _show(self, shown: bool, state_name: str) -> None:
        if shown == self.shown:
            return
        if shown and self._ever_shown:
            self._events.append(("headset_on", f"the headset shows the session again ({state_name})"))
        elif not shown:
            self._events.append(
                (
                    "headset_off",
                    f"the headset stopped showing the session ({state_name}): taken off, or the runtime hid it",
                )
            )
        self.shown = shown
        self._ever_shown = self._ever_shown or shown

    def lose(self, why) -> None:
        if self.lost is not None:
            return
        text = why if isinstance(why, str) else f"{type(why).__name__}: {why}"
        self.lost = f"the OpenXR runtime went away ({text})"
        self.running = False
        self.shown = False
        self._events.append(("xr_lost", self.lost))

    def drain_events(self) -> list[tuple[str, str]]:
        events = list(self._events)
        self._events.clear()
        return events
