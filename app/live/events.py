"""What a live client receives: typed JSON events, framed once for SSE and for WebSocket.

Every event is a JSON object with a `type`: `hello` (on connect), `changes`
(a change notice), `resync` (notices were lost: re-read everything),
`heartbeat` (the channel is alive). An event is serialised once, however many
clients receive it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from app.live.notices import iso_ms


@dataclass(frozen=True, slots=True)
class Event:
    """One event, ready to send: `sse` for text/event-stream, `text` for a WebSocket frame."""

    type: str
    city: str | None
    text: str
    sse: bytes

    @classmethod
    def make(cls, type_: str, body: dict[str, Any], *, city: str | None = None) -> Event:
        text = orjson.dumps({"type": type_, **body}).decode()
        return cls(type_, city, text, f"event: {type_}\ndata: {text}\n\n".encode())


def _now() -> str:
    return iso_ms(time.time_ns() // 1_000_000)


def changes(notice: dict[str, Any]) -> Event:
    """A decoded change notice (app.live.notices.decode) as an event."""
    return Event.make("changes", notice, city=notice["city"])


def hello(*, live: bool, city: str | None, heartbeat_s: float, cities: list[str] | None = None) -> Event:
    """`city`: the one city streamed (None: several or all); `cities`: the cities streamed (None: all)."""
    body = {"at": _now(), "live": live, "city": city, "cities": cities, "heartbeat_s": heartbeat_s}
    return Event.make("hello", body)


def heartbeat(*, live: bool) -> Event:
    return Event.make("heartbeat", {"at": _now(), "live": live})


def resync(reason: str) -> Event:
    return Event.make("resync", {"at": _now(), "reason": reason})


# An EventSource reconnects by itself; this sets how soon (ms), sent once per stream.
SSE_RETRY = b"retry: 3000\n\n"
