"""The console's one SessionStore, opened with the app and shared by its request threads.

Requests hand their store work to a thread (asyncio.to_thread). The connection allows that
(check_same_thread=False) and a lock makes each request's use of it one unit: sqlite3 keeps one
transaction per connection, so without the lock one request's reads could land inside another's
write, and a reopen (below) could close the connection under a report being read. A lock rather
than one worker thread of its own: Starlette already runs blocking work on threads, and the lock
needs nothing to start or stop. A console serves one therapist's few requests, so waiting on it
is short; the running session writes through its own connection (SessionWriter) and never waits.

Before each use the store looks at its file again (SessionStore.recheck), as opening a store per
request used to: a log damaged, made read-only or filled while the console runs gives the
therapist the one-line reason (503), and once the damaged file is moved aside the console goes on
with the new log.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from tidewell.sessions.store import SessionStore, StoreError

Result = TypeVar("Result")


class SharedStore:
    def __init__(self, db_path: Path):
        self.path = Path(db_path)
        self._store = SessionStore(self.path)
        self._lock = threading.Lock()
        self._closed = False

    async def run(self, work: Callable[[SessionStore], Result]) -> Result:
        """`work(store)` on a worker thread, alone with the store."""
        return await asyncio.to_thread(self.run_here, work)

    def run_here(self, work: Callable[[SessionStore], Result]) -> Result:
        with self._lock:
            if self._closed:
                raise StoreError(f"the console is closing; the session log {self.path} is closed")
            self._store.recheck()
            return work(self._store)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._store.close()
