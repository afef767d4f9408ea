"""The rule every door into Tidewell applies to a client's pseudonym (CLI, console, imports)."""

from __future__ import annotations

import re

from tidewell.core.errors import TidewellError

PSEUDONYM = re.compile(r"[\w.\- ]{1,40}")
RULE = "a pseudonym is 1-40 letters, digits, spaces, dots, dashes or underscores (never a real name)"


class PseudonymError(TidewellError, ValueError):
    pass


def checked_pseudonym(text: object) -> str:
    """The pseudonym with outer spaces removed; PseudonymError naming the rule otherwise."""
    if not isinstance(text, str):
        raise PseudonymError(f"{RULE}; got {type(text).__name__}")
    pseudonym = text.strip()
    if not PSEUDONYM.fullmatch(pseudonym):
        raise PseudonymError(f"{RULE}; got {pseudonym!r}")
    return pseudonym
