"""Telling a stream page that its viewing session was taken over by another device (SPEC §15), over its WebSocket."""

from __future__ import annotations

import json
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from webinar import i18n

log = logging.getLogger("webinar.presence")

# The page shows the text and stops: no reconnection (it would take the stream back from the other device).
TAKEN_OVER_CLOSE = 4002


def message(language: str) -> str:
    """The `taken_over` message, in the page's language."""
    with i18n.use(language):
        text = i18n.gettext(
            "The stream continues on another device, where your join link was just opened. To watch here again, "
            "reload this page: the other device then stops."
        )
    return json.dumps({"type": "taken_over", "text": text})


async def tell(websocket: WebSocket, language: str) -> None:
    """Tell this page it was taken over, and close its channel (quietly if it went away meanwhile)."""
    try:
        await websocket.send_text(message(language))
        await websocket.close(code=TAKEN_OVER_CLOSE)
    except (RuntimeError, WebSocketDisconnect, OSError):
        pass


class OpenPages:
    """The stream pages connected to this process, by viewing session: a takeover tells the page it ended at once
    (a page on another process learns it at its next heartbeat)."""

    def __init__(self) -> None:
        self._pages: dict[int, tuple[WebSocket, str]] = {}

    def add(self, session_id: int, websocket: WebSocket, language: str) -> None:
        self._pages[session_id] = (websocket, language)

    def remove(self, session_id: int, websocket: WebSocket) -> None:
        if self._pages.get(session_id, (None, ""))[0] is websocket:
            del self._pages[session_id]

    async def taken_over(self, session_ids: list[int]) -> None:
        """Tell each of these sessions' pages that are connected here."""
        for session_id in session_ids:
            found = self._pages.pop(session_id, None)
            if found is not None:
                log.info("presence: session %s taken over by another device", session_id)
                await tell(*found)
