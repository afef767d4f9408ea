"""Pairing a tablet with the engine, and the session tokens that follow.

The engine shows a one-time code on its own screen. A console that sends the right code gets a
session token (an HttpOnly cookie, or a bearer token for scripts) and the code is replaced, so
each code pairs one device. Wrong codes are rate-limited for everyone at once, since an
attacker on the LAN can change address at will: after MAX_FAILURES in FAILURE_WINDOW_S, pairing
is refused until the window has passed, and the code is replaced after every ROTATE_AFTER failures.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from tidewell.core.errors import TidewellError

CODE_DIGITS = 6
TOKEN_TTL_S = 12 * 3600  # a clinic day
MAX_FAILURES = 5
FAILURE_WINDOW_S = 60.0
ROTATE_AFTER = 10
COOKIE = "tidewell_token"


class PairingRefused(TidewellError):
    def __init__(self, message: str, retry_after_s: float | None = None):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Pairing:
    def __init__(self, announce: Callable[[str], None], clock: Callable[[], float] = time.monotonic):
        """announce(code) shows a new code on the engine's screen."""
        self._announce = announce
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: deque[float] = deque()
        self._failures_since_rotation = 0
        self._tokens: dict[str, float] = {}  # sha256(token) -> expiry
        self._code = ""
        self._rotate()

    @property
    def code(self) -> str:
        return self._code

    def pair(self, offered: str) -> str:
        """A new session token for the right code; PairingRefused otherwise."""
        with self._lock:
            now = self._clock()
            while self._failures and now - self._failures[0] > FAILURE_WINDOW_S:
                self._failures.popleft()
            if len(self._failures) >= MAX_FAILURES:
                retry = FAILURE_WINDOW_S - (now - self._failures[0])
                raise PairingRefused(f"too many wrong codes; try again in {retry:.0f} s", retry_after_s=retry)
            digits = "".join(ch for ch in str(offered) if ch.isdigit())
            if not hmac.compare_digest(digits.encode(), self._code.encode()):
                self._failures.append(now)
                self._failures_since_rotation += 1
                if self._failures_since_rotation >= ROTATE_AFTER:
                    self._rotate()
                raise PairingRefused("wrong pairing code")
            token = secrets.token_urlsafe(32)
            self._tokens[_digest(token)] = now + TOKEN_TTL_S
            self._rotate()
            return token

    def valid(self, token: str | None) -> bool:
        if not token:
            return False
        with self._lock:
            expiry = self._tokens.get(_digest(token))
            if expiry is None:
                return False
            if self._clock() > expiry:
                del self._tokens[_digest(token)]
                return False
            return True

    def revoke(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._tokens.pop(_digest(token), None)

    def _rotate(self) -> None:
        self._code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        self._failures_since_rotation = 0
        self._announce(self._code)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def spaced(code: str) -> str:
    return f"{code[:3]} {code[3:]}"
