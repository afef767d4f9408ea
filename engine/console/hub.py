"""What the web console and the session loop share.

The session loop (main thread) calls frame() and event(); the web server's threads read
snapshots and queue commands. One lock guards the little shared state; the session loop holds
it for microseconds per frame and never waits on the web side.
"""

from __future__ import annotations

import math
import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from tidewell.core import event_kinds
from tidewell.core.errors import TidewellError
from tidewell.core.frame_state import FrameState
from tidewell.sessions.controls import Control, Controls, drain

SAMPLE_EVERY_S = 1.0  # plot points: one per second of session time
HISTORY_POINTS = 3 * 3600  # a whole long session
REMEMBERED_REQUESTS = 512


class ConsoleBusy(TidewellError, RuntimeError):
    """A command that does not fit the console's state (e.g. a start while a session runs)."""


@dataclass
class StartRequest:
    client: str
    client_id: int
    program_id: str
    minutes: float | None
    before: dict
    eyes_closed: bool = False


@dataclass
class SessionView:
    """The running (or last) session as the console shows it."""

    session_id: int | None = None
    client_id: int | None = None
    program: dict | None = None  # id, title, minutes, phases [{name, kind, scene, posture, minutes}]
    status: str = "idle"  # idle, starting, running, ending, ended
    result: str | None = None  # completed, ended_early, interrupted (once ended)
    latest: dict = field(default_factory=dict)
    points: list = field(default_factory=list)  # [t_s, hr, rmssd, pace, calm]
    events: list = field(default_factory=list)  # {seq, t_s, kind, label, detail, phase}


class ConsoleHub:
    def __init__(self, live_view: bool = True):
        self.live_view = live_view  # False: the console was started with --no-live-view
        self._lock = threading.Lock()
        self._view = SessionView()
        self._seq = 0  # bumps on every change the consoles should see
        self._event_seq = 0
        self._next_point_s = 0.0
        self._requests: OrderedDict[str, object] = OrderedDict()
        self._leaving: set[int] = set()  # phases a "next" has been queued for
        self.controls: Controls = queue.SimpleQueue()  # handed to the running session (RunOptions.controls)
        self.starts: queue.Queue[StartRequest] = queue.Queue()
        self._live_image: bytes | None = None  # the latest live-view JPEG (memory only: see live_image)
        self._live_seq = 0

    # -- the session loop -----------------------------------------------------------------
    def session_began(self, session_id: int, client_id: int, program: dict) -> None:
        with self._lock:
            self._view = SessionView(session_id=session_id, client_id=client_id, program=program, status="running")
            self._next_point_s = 0.0
            self._leaving = set()
            drain(self.controls)  # what a session did not take is not for the next one
            self._live_image = None
            self._seq += 1

    def frame(self, state: FrameState) -> None:
        latest = {
            "t_s": round(state.t_s, 2),
            "phase": state.phase_index,
            "phase_name": state.phase_name,
            "phase_elapsed_s": round(state.phase_elapsed_s, 1),
            "phase_progress": round(state.phase_progress, 4),
            "hr": _num(state.hr_bpm, 1),
            "hr_provisional": _num(state.provisional_hr_bpm, 1),
            "rmssd": _num(state.rmssd_ms, 1),
            "pace": _num(state.pace_bpm, 2),
            "target_pace": _num(state.target_pace_bpm, 2),
            "calm": _num(state.calm, 3),
            "breath_rate": _num(state.breath_rate_bpm, 2),
            "coherence": _num(state.coherence, 3),
            "breath_stage": str(state.breath_stage.value),
            "breath_level": round(state.breath_level, 3),
            "paused": state.paused,
            "sensor": state.sensor,
            "ending": state.ending,
        }
        with self._lock:
            view = self._view
            view.latest = latest
            if state.ending and view.status == "running":
                view.status = "ending"
            if state.t_s >= self._next_point_s:
                view.points.append([latest["t_s"], latest["hr"], latest["rmssd"], latest["pace"], latest["calm"]])
                if len(view.points) > HISTORY_POINTS:
                    del view.points[0]
                self._next_point_s = state.t_s + SAMPLE_EVERY_S
            self._seq += 1

    def event(self, t_s: float, kind: str, detail: str, phase_index: int | None) -> None:
        entry = event_kinds.kind(kind)  # which kinds the console shows: core/event_kinds.py
        if not entry.console:
            return
        with self._lock:
            self._event_seq += 1
            self._view.events.append(
                {
                    "seq": self._event_seq,
                    "t_s": round(t_s, 1),
                    "kind": kind,
                    "label": entry.label,
                    "detail": detail,
                    "phase": phase_index,
                }
            )
            self._seq += 1

    def live_image(self, jpeg: bytes) -> None:
        """The client's view now (engine/render/live_view.py, from its worker thread). Kept in memory
        only, the latest one, until the session ends: never logged, written to a file, a report or an
        export (sessions/export.py, --anonymize or not), so the therapist sees it live and nowhere else."""
        with self._lock:
            self._live_image = jpeg
            self._live_seq += 1

    def live_latest(self) -> tuple[int, bytes | None]:
        """(a counter that changes with each new image, the image; None when there is none)."""
        with self._lock:
            return self._live_seq, self._live_image

    def session_ended(self, result: str) -> None:
        with self._lock:
            self._view.status = "ended"
            self._view.result = result
            drain(self.controls)
            self._live_image = None
            self._live_seq += 1
            self._seq += 1

    def session_failed(self, result: str, message: str) -> None:
        """The session began, then stopped on an error: it ends with `result` (its status in the log)."""
        with self._lock:
            self._view.status = "ended"
            self._view.result = result
            drain(self.controls)
            self._live_image = None
            self._view.events.append(
                {
                    "seq": self._event_seq + 1,
                    "t_s": self._view.latest.get("t_s", 0.0),
                    "kind": "session_failed",
                    "label": event_kinds.kind("session_failed").label,
                    "detail": message,
                    "phase": self._view.latest.get("phase"),
                }
            )
            self._event_seq += 1
            self._seq += 1

    def start_failed(self, message: str) -> None:
        with self._lock:
            self._view.status = "idle"
            self._view.result = None
            self._view.events.append(
                {
                    "seq": self._event_seq + 1,
                    "t_s": 0.0,
                    "kind": "start_failed",
                    "label": event_kinds.kind("start_failed").label,
                    "detail": message,
                    "phase": None,
                }
            )
            self._event_seq += 1
            self._seq += 1

    # -- the web side ---------------------------------------------------------------------
    @property
    def seq(self) -> int:
        return self._seq

    def snapshot(self, points_from: int = 0, events_after: int = 0) -> dict:
        """The view; only plot points from index points_from and events after seq events_after."""
        with self._lock:
            view = self._view
            return {
                "seq": self._seq,
                "session_id": view.session_id,
                "client_id": view.client_id,
                "program": view.program,
                "status": view.status,
                "result": view.result,
                "latest": dict(view.latest),
                "points_from": points_from,
                "points": [list(p) for p in view.points[points_from:]],
                "points_total": len(view.points),
                "events": [dict(e) for e in view.events if e["seq"] > events_after],
                "live_view": self.live_view,
            }

    def request_start(self, request: StartRequest, request_id: str | None) -> dict:
        with self._lock:
            if request_id and request_id in self._requests:
                return self._requests[request_id]
            if self._view.status in ("starting", "running", "ending"):
                raise ConsoleBusy("a session is already running; end it first")
            self._view = SessionView(client_id=request.client_id, status="starting")
            self._seq += 1
            answer = {"status": "starting"}
            self._remember(request_id, answer)
        self.starts.put(request)
        return answer

    def command(self, action: str, argument: object, request_id: str | None) -> dict:
        """Queue a control for the running session. A request id seen before is answered as before
        and not applied twice; "next" also carries the phase it means to leave."""
        with self._lock:
            if request_id and request_id in self._requests:
                return self._requests[request_id]
            if self._view.status not in ("running", "ending"):
                raise ConsoleBusy("no session is running")
            if action == "next" and (argument != self._view.latest.get("phase", argument) or argument in self._leaving):
                answer = {"applied": False, "why": f"already past phase {int(argument) + 1}"}
            else:
                self.controls.put(_control(action, argument))
                if action == "next":
                    self._leaving.add(argument)  # phases only move forward: one "next" per phase
                answer = {"applied": True}
            self._remember(request_id, answer)
            return answer

    def _remember(self, request_id: str | None, answer: object) -> None:
        if request_id:
            self._requests[request_id] = answer
            while len(self._requests) > REMEMBERED_REQUESTS:
                self._requests.popitem(last=False)


def _control(action: str, argument: object) -> Control:
    """The console's command as a session control: "pause" carries the state wanted."""
    if action == "pause":
        return Control("pause" if argument else "resume")
    return Control(action, argument)


def _num(value: float | None, digits: int) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round(float(value), digits)
