"""What the therapist (window keys, foot pedals, the console) and the headset ask of a running session.

Every input is a Control put on one queue (queue.SimpleQueue), from any thread; the session runner
takes them off at the start of its next step (SessionRunner.apply_controls), so a window, a headset
or a console never changes a session itself.
"""

from __future__ import annotations

import queue
from dataclasses import dataclass

ACTIONS = {
    "next": "leave the phase (argument: the phase index it means to leave, or None for the current one)",
    "pause": "stop the phase clock (nothing when paused already)",
    "resume": "start the phase clock again (the headset lifts only a pause it made)",
    "toggle_pause": "pause, or resume (the pause key)",
    "end": "a gentle end (argument: the reason the log keeps)",
    "marker": "a marker in the log (argument: its text)",
}
BY = ("therapist", "headset")  # who asks: the headset's resume lifts only the headset's own pause

Controls = queue.SimpleQueue  # of Control: the one queue every input goes through


@dataclass(frozen=True)
class Control:
    action: str
    argument: object = None
    by: str = "therapist"

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"unknown control {self.action!r}: expected one of {', '.join(ACTIONS)}")
        if self.by not in BY:
            raise ValueError(f"a control comes from one of {', '.join(BY)}, not {self.by!r}")


def key_control(action: str) -> Control:
    """A key's action (core/keymap.py: next, pause, marker, end) as a control: the pause key toggles."""
    return Control("toggle_pause" if action == "pause" else action)


def drain(controls: Controls) -> list[Control]:
    """Every control waiting on the queue, oldest first; the queue is left empty."""
    taken = []
    while True:
        try:
            taken.append(controls.get_nowait())
        except queue.Empty:
            return taken
