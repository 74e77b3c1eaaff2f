"""Alert payloads -> Alert: a CAP 1.2 XML document (app.alerts.cap parses it, with DTDs and entities refused)."""

from __future__ import annotations

from app.alerts.cap import CapError, parse_cap
from ingest.messages import Alert, Parsed
from ingest.parser.common import _Bad
from ingest.parser.rules import ParseRules


def _alert(payload: bytes, city: str, publisher: str, received_ms: int, rules: ParseRules) -> Parsed:
    del rules  # the size limit was applied before; a CAP document has no metric to check
    try:
        doc = parse_cap(payload)
    except CapError as exc:
        raise _Bad(exc.reason, exc.detail) from exc
    return Alert(city, publisher, doc, payload, received_ms)
