"""The dry run: what the ingestor would do with one message, stored nowhere.

One answer for the three ways in (`POST /api/v1/validate`, `satupintu check`,
the MQTT sandbox `city/{city}/test/...`), made by the ingestor's own parser
(`ingest.parser.parse_all`: the same verdict as the live path, with every
fault instead of the first) and the live path's warnings (ingest.feedback).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from ingest.feedback import first_sight, warnings_of
from ingest.messages import Alert, Reading, Rejected, SourceStatus, TicketEvent
from ingest.parser import Fault, ParseRules, parse_all

# The quarantine reasons in Bahasa Indonesia (ingest.messages.REASONS has them in English).
REASONS_ID = {
    "bad_topic": "topik tidak mengikuti city/{kota}/{sensor|service|status}/{id}",
    "bad_id": "id dalam topik bukan huruf kecil [a-z0-9_-]{1,64}",
    "unknown_city": "kota dalam topik tidak dilayani deployment ini",
    "too_large": "payload melebihi batas ukuran",
    "bad_encoding": "payload bukan UTF-8 yang sah",
    "bad_json": "payload bukan JSON yang sah (NaN dan Infinity bukan JSON)",
    "bad_shape": "payload JSON yang sah, tetapi bukan objek atau array yang diminta kontrak",
    "bad_field": "sebuah field bertipe salah atau bernilai tidak sah",
    "bad_time": "waktu tidak terbaca, terlalu jauh ke depan, atau lebih tua dari masa simpan",
    "out_of_range": "nilai di luar rentang sah metrik",
    "unknown_metric": "metrik tidak ada di katalog (kebijakan: karantina)",
    "unit_mismatch": "satuan berbeda dari satuan katalog untuk metrik ini",
    "partial": "sebagian entri ditolak; sisanya disimpan",
    "no_values": "payload tidak membawa nilai yang dapat disimpan",
    "storage": "basis data menolak pesan",
    # peringatan dini wilayah (issue 12): city/{kota}/alert/{pengirim}
    "bad_xml": "payload bukan XML yang sah, atau memuat DTD/entitas (ditolak: tanpa XXE)",
    "bad_cap": "XML bukan peringatan CAP 1.2 yang sah (elemen wajib hilang atau nilainya salah)",
    "bad_area": "poligon atau lingkaran CAP tidak sah (pasangan lat,lon, cincin tertutup, jari-jari dalam km)",
}

KnownSource = Callable[[str, str], bool]  # (city, source_id) -> already registered?


def _iso(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def _kind(topic: str, payload: bytes) -> str | None:
    """reading | senml | ngsi | ticket | status | cap, from the topic and the payload's JSON shape; None if neither says."""
    parts = topic.split("/") if isinstance(topic, str) else []
    kind = parts[2] if len(parts) == 4 and parts[0] == "city" else None
    if kind == "service":
        return "ticket"
    if kind == "status":
        return "status"
    if kind == "alert":
        return "cap"  # regional warnings: a CAP 1.2 XML document
    if kind != "sensor":
        return None
    try:
        obj = orjson.loads(payload)
    except (orjson.JSONDecodeError, TypeError):
        return None
    if isinstance(obj, list):
        return "senml"
    if isinstance(obj, dict):
        return "reading" if "values" in obj else "ngsi" if "id" in obj and "type" in obj else None
    return None


def _error(f: Fault) -> dict[str, Any]:
    id_text = REASONS_ID.get(f.reason, f.reason)
    return {"reason": f.reason, "detail": f.detail, "detail_id": f"{id_text} ({f.detail})", "path": f.path}


def _would_store(parsed: object) -> list[dict[str, Any]]:
    if isinstance(parsed, Reading):
        return [
            {"source_id": parsed.source_id, "metric": p.metric, "ts": _iso(p.ts_ms), "value": p.value, "unit": p.unit}
            for p in parsed.points
        ]
    if isinstance(parsed, TicketEvent):
        return [
            {
                "ticket_id": parsed.ticket_id,
                "agency": parsed.agency,
                "status": parsed.status,
                "ts": _iso(parsed.ts_ms),
                "service": parsed.service,
                "priority": parsed.priority,
                "district": parsed.district,
                "title": parsed.title,
                "lat": parsed.lat,
                "lon": parsed.lon,
                "sla_minutes": parsed.sla_minutes,
                "due": None if parsed.due_ms is None else _iso(parsed.due_ms),
                "stage": parsed.stage,
            }
        ]
    if isinstance(parsed, SourceStatus):
        return [{"source_id": parsed.source_id, "online": parsed.online}]
    if isinstance(parsed, Alert):
        d = parsed.doc
        return [
            {
                "identifier": d.identifier,
                "sender": d.sender,
                "msg_type": d.msg_type,
                "status": d.status,
                "event": d.event,
                "severity": d.severity,
                "sent": _iso(d.sent_ms),
                "areas": len(d.areas),
            }
        ]
    return []


def check(
    topic: str,
    payload: bytes,
    rules: ParseRules,
    *,
    received_ms: int | None = None,
    known_source: KnownSource | None = None,
) -> dict[str, Any]:
    """The dry run's answer for one message: ok, kind, errors, warnings, would_store. Nothing is stored.

    `known_source` (given where the database is at hand) adds the first-sight
    warning for a source the deployment has not seen yet.
    """
    received_ms = time.time_ns() // 1_000_000 if received_ms is None else received_ms
    parsed, faults = parse_all(topic, payload, received_ms, rules)
    book = rules.for_city(getattr(parsed, "city", None)).book
    warns = warnings_of(parsed, received_ms, book) if book is not None else []
    if (
        known_source is not None
        and book is not None
        and isinstance(parsed, (Reading, SourceStatus))
        and parsed.source_id not in book.sources
        and not known_source(parsed.city, parsed.source_id)
    ):
        warns.append(first_sight(parsed.source_id, book))
    return {
        "ok": not isinstance(parsed, Rejected),
        "topic": topic,
        "kind": _kind(topic, payload),
        "errors": [_error(f) for f in faults],
        "warnings": [w.as_dict() for w in warns],
        "would_store": _would_store(parsed),
        "received_at": _iso(received_ms),
    }
