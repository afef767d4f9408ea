"""Words for counts and session states, the same in the terminal, the report and the console."""

from __future__ import annotations

# sessions.status in the log -> what people read
STATUS_WORDS = {
    "running": "running",
    "completed": "completed",  # the program reached its last phase and ended gently there or at its end
    "ended_early": "ended early",  # a gentle end before the last phase
    "interrupted": "interrupted",  # Ctrl-C, SIGTERM, or a process that died
}


def status_words(status: str) -> str:
    return STATUS_WORDS.get(status, status.replace("_", " "))


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 session', '0 sessions', '2 sessions' ('1 entry', '2 entries' with nouns='entries')."""
    return f"{n} {noun if n == 1 else nouns or noun + 's'}"


def or_dash(value) -> str:
    """A value as text, or "—" where there is none (an unrated pain, a missing measure)."""
    return "—" if value is None else str(value)
