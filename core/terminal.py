"""What reaches the therapist's terminal: text without control characters, and a closed pipe that
never stops a session.

Phase names, pseudonyms, markers and notes are typed by people and read back from files and the
log; an escape sequence among them could clear the screen, retitle the window or hide a line.
`printable` removes escape sequences (CSI, OSC, DCS ...), the C0 and C1 control characters but
newline and tab, and the bidirectional overrides that reorder what is shown.
`control_characters` finds the same characters, for the doors that refuse such text before storing it
(program files, --note, the console's bodies).
`TerminalStream` applies it to everything written to stdout and stderr by the `tidewell` command,
and when the reader goes away (`tidewell run | head`) it stops writing instead of failing.
"""

from __future__ import annotations

import io
import os
import re
import sys

_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: ESC [ parameters intermediates final
    r"|\x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC up to BEL or ST
    r"|\x1b[ -/]*[0-~]?"  # any other ESC sequence (ESC c resets the terminal)
)
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but tab and newline, DEL, C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"  # bidi marks, embeddings, overrides and isolates
)


def control_characters(text: str) -> list[str]:
    """The control characters in `text` (C0 but tab and newline, DEL, C1, bidi controls), in order."""
    return _CONTROL.findall(text)


def printable(text: object) -> str:
    """`text` as a string safe to show on a terminal: escape sequences and control characters removed."""
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", str(text)))


def say(text: object) -> None:
    """print() for messages that may hold text someone typed."""
    print(printable(text), flush=True)


class TerminalStream(io.TextIOBase):
    """Wraps sys.stdout or sys.stderr: every write goes through `printable`, and a reader that has
    gone away (EPIPE) silences the stream for the rest of the process instead of raising."""

    def __init__(self, stream):
        self._stream = stream
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                self._stream.write(printable(text))
            except BrokenPipeError:
                self._reader_gone()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._reader_gone()

    def _reader_gone(self) -> None:
        self.closed_by_reader = True
        try:  # the interpreter's own last flush at exit would hit the closed pipe again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        return self._stream.isatty()

    def fileno(self) -> int:
        return self._stream.fileno()

    @property
    def encoding(self):
        return self._stream.encoding

    def __getattr__(self, name):
        return getattr(self._stream, name)


class terminal_output:
    """`with terminal_output():` routes sys.stdout and sys.stderr through TerminalStream."""

    def __enter__(self):
        self._saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = TerminalStream(sys.stdout), TerminalStream(sys.stderr)
        return self

    def __exit__(self, *exc):
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        sys.stdout, sys.stderr = self._saved
