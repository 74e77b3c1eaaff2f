"""Deliberately bad messages: every way a device or a system can break the contract, for the ingestor to refuse."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson

from .clock import DAY, HOUR

if TYPE_CHECKING:
    from .model import CityModel, Message
    from .physics import Source

_OVERSIZE = 70_000  # bytes of padding: past the contract's 64 KiB

# Bad message kinds and their weights (each is made by the function `_<kind>` below).
BAD_KINDS = (
    ("malformed", 3),
    ("encoding", 2),
    ("nan", 2),
    ("not_object", 2),
    ("wrong_type", 3),
    ("out_of_range", 3),
    ("unknown_metric", 2),
    ("future", 2),
    ("no_offset", 2),
    ("oversized", 1),
    ("sql_topic", 2),
    ("unknown_city", 2),
    ("topic_shape", 2),
    ("senml_mixed", 3),
    ("ticket", 2),
    ("status", 1),
)
_BAG = tuple(k for k, w in BAD_KINDS for _ in range(w))  # one entry per unit of weight


def bad_message(m: CityModel, now: float) -> Message:
    """One bad message of a kind drawn by weight, about a random source; counted in `m.counts`."""
    kind = _BAG[int(m.rnd() * len(_BAG))]
    c = m.counts
    c["bad"] = c.get("bad", 0) + 1
    c["bad:" + kind] = c.get("bad:" + kind, 0) + 1
    topic, payload = _MAKERS[kind](m, now, m.sources[int(m.rnd() * len(m.sources))])
    return topic, payload, False, True


def _good_values(m: CityModel, s: Source, now: float) -> dict[str, float]:
    h = (now + m.tz_s) % DAY / HOUR
    return {k: g(s, m, now, h) for k, g in s.gens}


def _malformed(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    body = orjson.dumps({"ts": now, "values": _good_values(m, s, now)})
    cut = m.rng.choice((len(body) - 2, len(body) // 2, 1))
    return s.topic, body[:cut] if m.rnd() < 0.7 else body.replace(b'"ts"', b"ts", 1)


def _encoding(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    # Latin-1 where UTF-8 is due: what an old logger writes for "°C".
    return s.topic, b'{"ts": %.3f, "values": {"air_temp_c": 28.4}, "note": "suhu 28\xb0C"}' % now


def _nan(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    metric = s.gens[0][0]
    lit = m.rng.choice((b"NaN", b"Infinity", b"-Infinity"))
    return s.topic, b'{"ts": %.3f, "values": {"%s": %s}}' % (now, metric.encode(), lit)


def _not_object(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    return s.topic, m.rng.choice((b"42", b"null", b"true", b'"tinggi air 120 cm"', b"182.5"))


def _wrong_type(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    metric = s.gens[0][0]
    body = m.rng.choice(
        (
            {"ts": now, "values": {metric: "120 cm"}},
            {"ts": now, "values": [metric, 120]},
            {"ts": True, "values": {metric: 1.0}},
            {"ts": now, "values": {metric: 1.0}, "lat": "2.05", "lon": 128.3},
            {"ts": now, "values": {metric: {"value": 1.0}}},
        )
    )
    return s.topic, orjson.dumps(body)


def _out_of_range(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    # One impossible value among good ones: the good ones are stored, this one refused.
    ms = m.stamp(s, now)
    values = _good_values(m, s, now)
    k = m.rng.choice(list(values))
    lo, hi = m.metrics[k].valid
    values[k] = round(hi + (hi - lo) * m.rng.uniform(0.1, 2.0), 1) if m.rnd() < 0.7 else lo - 1 - abs(lo)
    return s.topic, orjson.dumps({"ts": ms / 1000, "values": values})


def _unknown_metric(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    # Under "accept" an unknown but well-formed metric id is registered, so send one that is no id at all.
    name = m.rng.choice(("kadar_radon_bqm3", "salinitas_psu")) if m.quarantine_unknown else "Tinggi Air (cm)"
    return s.topic, orjson.dumps({"ts": now, "values": {name: 12.5}})


def _future(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    ahead = m.rng.uniform(1, 400) * DAY
    return s.topic, orjson.dumps({"ts": round(now + ahead, 3), "values": _good_values(m, s, now)})


def _no_offset(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    naive = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now + m.tz_s))
    return s.topic, orjson.dumps({"ts": naive, "values": _good_values(m, s, now)})


def _oversized(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    body = {"ts": now, "values": _good_values(m, s, now), "debug": "x" * _OVERSIZE}
    return s.topic, orjson.dumps(body)


def _sql_topic(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    sid = m.rng.choice(("x'; DROP TABLE readings;--", "1' OR '1'='1", 'awlr"); DELETE FROM sources;--'))
    return f"city/{m.city}/sensor/{sid}", orjson.dumps({"ts": now, "values": _good_values(m, s, now)})


def _unknown_city(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    city = m.rng.choice(("halmahera-utara", "ternate", "tidore"))
    return f"city/{city}/sensor/{s.id}", orjson.dumps({"ts": now, "values": _good_values(m, s, now)})


def _topic_shape(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    # Shapes the ingestor still receives (city/+/sensor/#, city/+/service/#), so it can quarantine them.
    topic = m.rng.choice(
        (
            f"city/{m.city}/sensor/{s.id}/extra",
            f"city/{m.city}/sensor",
            f"city/{m.city}/service/x/y/z",
            f"city/{m.city.upper()}/sensor/{s.id}",
            f"city/{m.city}/sensor/{s.id.upper()}",
        )
    )
    return topic, orjson.dumps({"ts": now, "values": _good_values(m, s, now)})


def _senml_mixed(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    # A pack with one bad record among good ones: the good ones are stored.
    s = m.multi[int(m.rnd() * len(m.multi))]
    prev = s.last_ms
    ms = m.stamp(s, now)
    h = (now + m.tz_s) % DAY / HOUR
    values = _good_values(m, s, now)
    pack = m.senml_pack(s, prev, ms, values, h)
    r = m.rng
    i = r.randrange(1, len(pack)) if len(pack) > 1 else 0
    k = pack[i]["n"]
    bad = r.choice(
        ({"n": k, "v": "tinggi"}, {"n": k, "u": "ft", "v": 1.0}, {"n": k, "v": 1e9}, {"n": "Tinggi Air!", "v": 1.0})
    )
    if len(pack) > 1:
        pack[i] = bad
    else:
        pack.append(bad)
    return s.topic, orjson.dumps(pack)


def _ticket(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    r = m.rng
    body = r.choice(
        (
            {"ticket_id": "112-2026-999999", "status": "selesai", "service": "ambulans"},
            {"status": "open", "service": "ambulans", "title": "Tanpa nomor tiket"},
            {"ticket_id": "PUPR-2026-999999", "status": "open", "priority": "sangat penting"},
            {"ticket_id": "x y z", "status": "open"},
            {"ticket_id": "DLH-2026-999999", "status": "open", "ts": "kemarin sore"},
        )
    )
    agency = r.choice(m.profile.agencies).id if m.profile.agencies else "layanan-112"
    return f"city/{m.city}/service/{agency}", orjson.dumps(body)


def _status(m: CityModel, now: float, s: Source) -> tuple[str, bytes]:
    return s.status_topic, m.rng.choice((b"rebooting", b"1", b'{"status": "maybe"}'))


_MAKERS = {
    "malformed": _malformed,
    "encoding": _encoding,
    "nan": _nan,
    "not_object": _not_object,
    "wrong_type": _wrong_type,
    "out_of_range": _out_of_range,
    "unknown_metric": _unknown_metric,
    "future": _future,
    "no_offset": _no_offset,
    "oversized": _oversized,
    "sql_topic": _sql_topic,
    "unknown_city": _unknown_city,
    "topic_shape": _topic_shape,
    "senml_mixed": _senml_mixed,
    "ticket": _ticket,
    "status": _status,
}
