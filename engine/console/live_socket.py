"""The console's WebSocket of live data, once app.py has checked its origin and token: the session's
view as JSON whenever it changes, and (for a page that asked for them) the live view's images as binary
messages.

The page asks with `?live_view=1` when it connects and turns them on or off at any time by sending
{"live_view": true|false}; anything else it sends is ignored. The images come from the hub's memory
(ConsoleHub.live_image): this socket is the only place they go.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from tidewell.engine.console.hub import ConsoleHub

LIVE_PERIOD_S = 0.25


async def stream_live(websocket: WebSocket, hub: ConsoleHub, still_paired: Callable[[], bool]) -> None:
    wishes = {"live_view": websocket.query_params.get("live_view") == "1", "open": True}
    reader = asyncio.create_task(_read_wishes(websocket, wishes))
    points_from, events_after, sent_seq, sent_session, sent_image = 0, 0, -1, None, -1
    try:
        while wishes["open"]:
            if hub.seq != sent_seq:
                view = hub.snapshot(points_from, events_after)
                if view["session_id"] != sent_session or view["points_total"] < points_from:
                    view = hub.snapshot(0, 0)  # a new session: its whole history
                sent_session = view["session_id"]
                await websocket.send_text(json.dumps(view))
                sent_seq = view["seq"]
                points_from = view["points_total"]
                if view["events"]:
                    events_after = view["events"][-1]["seq"]
            if wishes["live_view"]:
                image_seq, image = hub.live_latest()
                if image is not None and image_seq != sent_image:
                    await websocket.send_bytes(image)
                    sent_image = image_seq
            if not still_paired():
                await websocket.close(code=4401)
                return
            await asyncio.sleep(LIVE_PERIOD_S)
    except (WebSocketDisconnect, RuntimeError):
        return  # the tablet went to sleep; the session is not affected
    finally:
        reader.cancel()


async def _read_wishes(websocket: WebSocket, wishes: dict) -> None:
    """What the page asks for: {"live_view": true|false}. Ends (and ends the stream) when it goes."""
    try:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            try:
                wish = json.loads(message.get("text") or "null")
            except ValueError:
                continue
            if isinstance(wish, dict) and isinstance(wish.get("live_view"), bool):
                wishes["live_view"] = wish["live_view"]
    except (WebSocketDisconnect, RuntimeError):
        pass
    wishes["open"] = False
