"""Status payloads -> SourceStatus: a source's `online` / `offline`, bare or as JSON."""

from __future__ import annotations

import orjson

from ingest.messages import Parsed, SourceStatus
from ingest.parser.common import _CLIP, _Bad, _clip
from ingest.parser.rules import ParseRules

_ONLINE = {b"online": True, b"offline": False}


def _status(payload: bytes, city: str, source: str, received_ms: int, rules: ParseRules) -> Parsed:
    online = _ONLINE.get(payload.strip().lower())
    if online is None:
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            obj = None
        if type(obj) is dict:
            obj = obj.get("status")
        if type(obj) is str:
            online = _ONLINE.get(obj.strip().lower().encode())
        if online is None:
            shown = payload[:_CLIP].decode("utf-8", "replace")
            raise _Bad("bad_field", f"a status is 'online' or 'offline', not {_clip(shown)}")
    return SourceStatus(city, source, online, received_ms)
