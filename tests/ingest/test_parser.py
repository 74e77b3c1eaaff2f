"""ingest.parser: topics, the three sensor shapes, tickets, status, and that parse() never raises."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import orjson
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ingest import parser
from ingest.messages import REASONS, TICKET_STATUSES, Point, Reading, Rejected, SourceStatus, TicketEvent
from ingest.parser import MetricRule, ParseRules, parse
from ingest.parser.common import _snake
from ingest.parser.service import _STATUS_MAP

PARSED_TYPES = (Reading, TicketEvent, SourceStatus, Rejected)


def ms(iso: str) -> int:
    return round(datetime.fromisoformat(iso).timestamp() * 1000)


RECV = ms("2026-11-22T08:15:00+09:00")
SENSOR = "city/morotai/sensor/awlr-sungai-pilowo"
SERVICE = "city/morotai/service/layanan-112"
STATUS = "city/morotai/status/awlr-sungai-pilowo"

CATALOGUE = {
    "water_level_cm": MetricRule("cm", -50.0, 1500.0),
    "rain_mm_h": MetricRule("mm/h", 0.0, 500.0),
    "air_temp_c": MetricRule("°C", -10.0, 60.0),
    "battery_v": MetricRule("V", 0.0, 60.0),
    "pm25_ugm3": MetricRule("µg/m³", 0.0, 1000.0),
}
RULES = ParseRules(cities=frozenset({"morotai"}), metrics=CATALOGUE)
STRICT = ParseRules(cities=frozenset({"morotai"}), metrics=CATALOGUE, unknown_metric="quarantine")


# The published examples, kept in the repository with their provenance (tests/vectors/SOURCES.md).
VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def vector(name: str) -> bytes:
    return (VECTORS / name).read_bytes()


def dumps(obj: object) -> bytes:
    return orjson.dumps(obj)


def reading(topic: str = SENSOR, payload: object = None, rules: ParseRules = RULES, recv: int = RECV) -> Reading:
    out = parse(topic, payload if isinstance(payload, bytes) else dumps(payload), recv, rules)
    assert isinstance(out, Reading), out
    return out


def rejected(topic: str, payload: bytes | object, rules: ParseRules = RULES, recv: int = RECV) -> Rejected:
    out = parse(topic, payload if isinstance(payload, bytes) else dumps(payload), recv, rules)
    assert isinstance(out, Rejected), out
    assert out.reason in REASONS
    assert len(out.detail) < 400
    return out


def metrics(r: Reading) -> dict[str, float]:
    return {p.metric: p.value for p in r.points}


# --------------------------------------------------------------------------- the published vectors


def _with_offset(name: str, key: str = "dateObserved") -> bytes:
    """The AirQualityObserved examples state local times without an offset: we refuse to guess, so the
    mapping tests give them one."""
    obj = json.loads(vector(name))
    v = obj[key]
    if isinstance(v, dict):
        v["value"] += "+01:00"
    else:
        obj[key] = v + "+01:00"
    return dumps(obj)


AQ_KEYVALUES = {
    "precipitation": 0,
    "relative_humidity": 0.54,
    "temperature": 12.2,
    "wind_direction": 176,
    "wind_speed": 0.64,
    "air_quality_index": 65,
    "reliability": 0.7,
    "co": 500,
    "no": 45,
    "co2": 69,
    "nox": 139,
    "so2": 11,
}
AQ_NORMALIZED = {
    "co": 500,
    "temperature": 12.2,
    "no": 45,
    "wind_direction": 176,
    "so2": 11,
    "nox": 139,
    "wind_speed": 0.64,
    "air_quality_index": 65,
    "reliability": 0.7,
    "relative_humidity": 0.54,
    "precipitation": 0,
    "no2": 69,
    "pm4": 37,
    "tpc": 108,
    "tsp": 73,
    "pressure": 1.1,
    "charge": 5,
}
MADRID = (40.423852777777775, -3.712247222222222)
GUADALAJARA = (40.62785133667262, -3.164485591715449)

# file -> (payload, received, expected metrics, expected point ts, expected (lat, lon))
SENSOR_VECTORS = {
    "SenML_RFC8428_5.1.2.json": (None, RECV, {"voltage": 120.1, "current": 1.2}, RECV, (None, None)),
    "AirQualityObserved.json": (
        _with_offset("AirQualityObserved.json"),
        ms("2016-03-15T12:05:00+01:00"),
        AQ_KEYVALUES,
        ms("2016-03-15T12:00:00+01:00"),
        MADRID,
    ),
    "AirQualityObserved.normalized.json": (
        _with_offset("AirQualityObserved.normalized.json"),
        ms("2016-03-15T11:05:00+01:00"),
        AQ_NORMALIZED,
        ms("2016-03-15T11:00:00+01:00"),
        MADRID,
    ),
    "Streetlight.json": (
        None,
        ms("2021-01-11T16:00:00+05:30"),
        {"power_consumption": 10, "current": 250, "power_factor": 0.7, "voltage": 50},
        ms("2021-01-11T15:51:02+05:30"),
        GUADALAJARA,
    ),
    "TrafficFlowObserved.json": (
        None,
        ms("2016-12-07T11:20:00Z"),
        {
            "average_headway_time": 0.5,
            "intensity": 197,
            "occupancy": 0.76,
            "average_vehicle_speed": 52.6,
            "average_vehicle_length": 9.87,
        },
        ms("2016-12-07T11:15:00Z"),
        (None, None),  # a LineString gives no point position
    ),
    "WasteContainer.json": (None, RECV, {"filling_level": 0.4}, RECV, GUADALAJARA),
    "WaterQualityObserved.json": (
        None,
        ms("2017-01-31T07:00:00Z"),
        {"temperature": 24.4, "conductivity": 0.005, "ph": 7.4, "no3": 0.01},
        ms("2017-01-31T06:45:00Z"),
        (37.362882, -5.993307),
    ),
}
SERVICE_VECTORS = {"Open311ServiceRequest.json"}


def test_every_vector_file_is_covered() -> None:
    assert {p.name for p in VECTORS.glob("*.json")} == set(SENSOR_VECTORS) | SERVICE_VECTORS


@pytest.mark.parametrize("name", sorted(SENSOR_VECTORS))
def test_sensor_vectors(name: str) -> None:
    payload, recv, expected, ts, (lat, lon) = SENSOR_VECTORS[name]
    r = reading(SENSOR, payload or vector(name), recv=recv)
    assert metrics(r) == pytest.approx(expected)
    assert len(r.points) == len(expected)
    assert {p.ts_ms for p in r.points} == {ts}
    assert (r.lat, r.lon) == (lat, lon)
    assert r.refused == ()
    assert (r.city, r.source_id) == ("morotai", "awlr-sungai-pilowo")


def test_senml_vector_units_and_policy() -> None:
    r = reading(SENSOR, vector("SenML_RFC8428_5.1.2.json"))
    assert [(p.metric, p.unit) for p in r.points] == [("voltage", "V"), ("current", "A")]
    out = rejected(SENSOR, vector("SenML_RFC8428_5.1.2.json"), rules=STRICT)
    assert out.reason == "unknown_metric"
    assert "entry 0 (voltage)" in out.detail


@pytest.mark.parametrize("name", ["AirQualityObserved.json", "AirQualityObserved.normalized.json"])
def test_fiware_vectors_without_offset_are_bad_time(name: str) -> None:
    out = rejected(SENSOR, vector(name), recv=ms("2016-03-15T12:05:00+01:00"))
    assert out.reason == "bad_time"
    assert "no UTC offset" in out.detail


@pytest.mark.parametrize("name", sorted(n for n, v in SENSOR_VECTORS.items() if v[1] != RECV))
def test_vectors_are_too_old_at_default_retention(name: str) -> None:
    payload, _recv, *_ = SENSOR_VECTORS[name]
    out = rejected(SENSOR, payload or vector(name), recv=ms("2026-11-22T08:15:00+09:00"))
    assert out.reason == "bad_time"
    assert "days old" in out.detail


def test_open311_vector() -> None:
    recv = ms("2010-04-14T07:00:00-08:00")
    ev = parse(SERVICE, vector("Open311ServiceRequest.json"), recv, RULES)
    assert isinstance(ev, TicketEvent), ev
    assert (ev.city, ev.agency, ev.ticket_id, ev.status, ev.service) == (
        "morotai",
        "layanan-112",
        "638344",
        "closed",
        "234",
    )
    assert ev.ts_ms == ms("2010-04-14T06:37:38-08:00")
    assert ev.due_ms == ms("2010-04-15T06:37:38-08:00")
    assert ev.title == "Aceras"
    assert ev.description == "Acera en mal estado con bordillo partido en dos"
    assert (ev.lat, ev.lon) == GUADALAJARA
    assert ev.priority == "normal" and ev.sla_minutes is None
    assert rejected(SERVICE, vector("Open311ServiceRequest.json")).reason == "bad_time"  # 2010 is past retention


# --------------------------------------------------------------------------- topics

LONG = "a" * 10_000


@pytest.mark.parametrize(
    ("topic", "reason", "city", "target"),
    [
        ("city/morotai/sensor", "bad_topic", None, None),
        ("city/morotai/sensor/a/b", "bad_topic", None, None),
        ("city/morotai/alarm/a1", "bad_topic", None, None),
        ("city/morotai/rejected/a1", "bad_topic", None, None),
        ("town/morotai/sensor/a1", "bad_topic", None, None),
        ("", "bad_topic", None, None),
        ("/city/morotai/sensor/a1", "bad_topic", None, None),
        ("city/Morotai/sensor/a1", "bad_id", None, "a1"),
        ("city/morotai/sensor/AWLR-1", "bad_id", "morotai", None),
        ("city/morotai/sensor/x'; DROP TABLE sources;--", "bad_id", "morotai", None),
        ("city/morotai/service/x'; DROP TABLE sources;--", "bad_id", "morotai", None),
        (f"city/morotai/sensor/{LONG}", "bad_id", "morotai", None),
        (f"city/{LONG}/sensor/a1", "bad_id", None, "a1"),
        ("city/morotai/sensor/a 1", "bad_id", "morotai", None),
        ("city/morotai/sensor/", "bad_id", "morotai", None),
        ("city/morotai/sensor/a1\n", "bad_id", "morotai", None),
        ("city/morotai/status/" + "b" * 65, "bad_id", "morotai", None),
        ("city/jakarta/sensor/a1", "unknown_city", "jakarta", "a1"),
        ("city/jakarta/service/bpbd", "unknown_city", "jakarta", "bpbd"),
    ],
)
def test_topics(topic: str, reason: str, city: str | None, target: str | None) -> None:
    for _ in range(2):  # the second time through the topic cache
        out = rejected(topic, {"values": {"rain_mm_h": 1.0}})
        assert (out.reason, out.city, out.target) == (reason, city, target)
        assert "a" * 81 not in out.detail  # echoed input is clipped to 80 characters
        assert len(out.detail) <= 160


def test_valid_id_edges() -> None:
    for ident in ("a", "0", "-", "_", "a" * 64, "awlr_01-x"):
        assert isinstance(parse(f"city/morotai/status/{ident}", b"online", RECV, RULES), SourceStatus)


# --------------------------------------------------------------------------- reading object


def test_reading_object_contract_example() -> None:
    r = reading(
        SENSOR,
        {
            "ts": "2026-11-22T08:15:00+09:00",
            "values": {"water_level_cm": 182.5, "rain_mm_h": 12},
            "district": "morotai-selatan",
            "lat": 2.0386,
            "lon": 128.2962,
        },
    )
    assert r.points == (
        Point("water_level_cm", RECV, 182.5, "cm"),
        Point("rain_mm_h", RECV, 12.0, "mm/h"),
    )
    assert type(r.points[1].value) is float
    assert (r.district, r.lat, r.lon, r.refused) == ("morotai-selatan", 2.0386, 128.2962, ())


@pytest.mark.parametrize(
    ("ts", "expected"),
    [
        (None, RECV),
        ("2026-11-22T08:15:00+09:00", RECV),
        ("2026-11-21T23:15:00Z", RECV),
        ("2026-11-21T23:15:00.250Z", RECV + 250),
        ("2026-11-22 08:14:59.999+09:00", RECV - 1),
        ("20261121T231500Z", RECV),
        (RECV / 1000, RECV),
        (RECV // 1000 - 60, RECV - 60_000),
        (RECV / 1000 + 0.5, RECV + 500),
        (RECV, RECV),  # epoch milliseconds
        (RECV - 1234, RECV - 1234),
        (float(RECV), RECV),
    ],
)
def test_reading_times(ts: object, expected: int) -> None:
    payload = {"values": {"rain_mm_h": 1.0}} if ts is None else {"ts": ts, "values": {"rain_mm_h": 1.0}}
    assert reading(SENSOR, payload).points[0].ts_ms == expected


@pytest.mark.parametrize(
    ("ts", "words"),
    [
        ("2026-11-22T08:15:00", "no UTC offset"),
        ("2026-11-22", "no UTC offset"),
        ("yesterday", "not an ISO 8601"),
        ("", "not an ISO 8601"),
        (True, "not a boolean"),
        (False, "not a boolean"),
        ([], "not an array"),
        ({}, "not an object"),
        ("2026-11-22T08:25:00+09:00", "in the future"),
        (RECV / 1000 + 301, "in the future"),
        (RECV + 301_000, "in the future"),
        ("2026-10-01T00:00:00+09:00", "days old"),
        (0, "days old"),
        (-5, "days old"),
        (1e300, "not a plausible"),
        (-1e300, "not a plausible"),
        ("2026-11-22T08:15:00+09:00" + "x" * 10_000, "not an ISO 8601"),
    ],
)
def test_reading_bad_times(ts: object, words: str) -> None:
    out = rejected(SENSOR, {"ts": ts, "values": {"rain_mm_h": 1.0}})
    assert out.reason == "bad_time"
    assert words.replace("not a boolean", "a boolean") in out.detail
    assert len(out.detail) < 200


def test_time_window_follows_rules() -> None:
    tight = ParseRules(frozenset({"morotai"}), CATALOGUE, max_future_ms=0, max_age_ms=60_000)
    assert rejected(SENSOR, {"ts": RECV + 1, "values": {"rain_mm_h": 1}}, rules=tight).reason == "bad_time"
    assert rejected(SENSOR, {"ts": RECV - 60_001, "values": {"rain_mm_h": 1}}, rules=tight).reason == "bad_time"
    assert reading(SENSOR, {"ts": RECV - 60_000, "values": {"rain_mm_h": 1}}, rules=tight).points


@pytest.mark.parametrize(
    ("payload", "reason", "words"),
    [
        (b"\xff\xfe{}", "bad_encoding", "UTF-8"),
        (b'{"values": {"rain_mm_h": "\xed\xa0\x80"}}', "bad_encoding", "UTF-8"),
        (b'{"values": {"rain_mm_h": 1.0}', "bad_json", "not valid JSON"),
        (b"", "bad_json", "not valid JSON"),
        (b'{"values": {"rain_mm_h": NaN}}', "bad_json", "NaN and Infinity are not JSON"),
        (b'{"values": {"rain_mm_h": Infinity}}', "bad_json", "NaN and Infinity are not JSON"),
        (b'{"values": {"rain_mm_h": -Infinity}}', "bad_json", "NaN and Infinity are not JSON"),
        (b'{"values": {"rain_mm_h": 1e999}}', "bad_json", "infinity"),
        (b"\xef\xbb\xbf{}", "bad_json", "not valid JSON"),
        (b"42", "bad_shape", "not a number"),
        (b'"water"', "bad_shape", "not a string"),
        (b"null", "bad_shape", "not null"),
        (b"true", "bad_shape", "not a boolean"),
        (b'{"ts": 1}', "bad_shape", "needs 'values'"),
        (b'{"values": []}', "bad_field", "'values' must be an object"),
        (b'{"values": null}', "bad_field", "'values' must be an object"),
        (b'{"values": 3}', "bad_field", "'values' must be an object"),
        (b'{"values": {}}', "no_values", "empty"),
        (b"[]", "no_values", "empty"),
        (b'{"values": {"rain_mm_h": "12"}}', "bad_field", "values.rain_mm_h: bad_field: value is a string"),
        (b'{"values": {"rain_mm_h": true}}', "bad_field", "value is a boolean"),
        (b'{"values": {"rain_mm_h": null}}', "bad_field", "value is null"),
        (b'{"values": {"rain_mm_h": [1]}}', "bad_field", "value is an array"),
        (b'{"values": {"rain_mm_h": 9999}}', "out_of_range", "9999 outside [0, 500]"),
        (b'{"values": {"water_level_cm": -50.5}}', "out_of_range", "-50.5 outside [-50, 1500]"),
        (b'{"values": {"Bad Name!": 1}}', "bad_field", "metric id"),
        (b'{"values": {"rain_mm_h": 1}, "district": "Morotai Selatan"}', "bad_field", "district"),
        (b'{"values": {"rain_mm_h": 1}, "district": 7}', "bad_field", "district"),
        (b'{"values": {"rain_mm_h": 1}, "lat": 91, "lon": 128}', "bad_field", "lat 91 is outside"),
        (b'{"values": {"rain_mm_h": 1}, "lat": 2, "lon": -180.5}', "bad_field", "lon -180.5 is outside"),
        (b'{"values": {"rain_mm_h": 1}, "lat": "2.0", "lon": 128}', "bad_field", "lat must be a number"),
        (b'{"values": {"rain_mm_h": 1}, "lat": true, "lon": 128}', "bad_field", "a boolean"),
        (b'{"values": {"rain_mm_h": 1}, "lat": 2.0}', "bad_field", "go together"),
        (b'{"values": {"rain_mm_h": 9999, "battery_v": -1}}', "out_of_range", "(and 1 more)"),
        (b'{"values": {"rain_mm_h": 9999, "battery_v": "x"}}', "no_values", "no storable value"),
    ],
)
def test_sensor_refusals(payload: bytes, reason: str, words: str) -> None:
    out = rejected(SENSOR, payload)
    assert out.reason == reason, out
    assert words in out.detail, out.detail
    assert (out.city, out.target) == ("morotai", "awlr-sungai-pilowo")


def test_partial_reading_keeps_good_values() -> None:
    r = reading(SENSOR, {"values": {"rain_mm_h": 3.5, "battery_v": 99, "water_level_cm": False}})
    assert metrics(r) == {"rain_mm_h": 3.5}
    assert r.refused == (
        "values.battery_v: out_of_range: 99 outside [0, 60]",
        "values.water_level_cm: bad_field: value is a boolean, not a number",
    )


def test_unknown_metric_policies() -> None:
    r = reading(SENSOR, {"values": {"soil_moisture": 0.3, "rain_mm_h": 1}})
    assert r.points[0] == Point("soil_moisture", RECV, 0.3, None)
    r = reading(SENSOR, {"values": {"soil_moisture": 0.3, "rain_mm_h": 1}}, rules=STRICT)
    assert metrics(r) == {"rain_mm_h": 1.0}
    assert r.refused == ("values.soil_moisture: unknown_metric: not in the catalogue",)
    out = rejected(SENSOR, {"values": {"soil_moisture": 0.3}}, rules=STRICT)
    assert out.reason == "unknown_metric"


def test_metric_keys_are_lowercased_and_deduplicated() -> None:
    r = reading(SENSOR, {"values": {"Rain_MM_H": 2.0, "rain_mm_h": 3.0}})
    assert r.points == (Point("rain_mm_h", RECV, 2.0, "mm/h"),)
    assert r.refused == ("values.rain_mm_h: bad_field: duplicate of an earlier key (first kept)",)


def test_payload_size_limit() -> None:
    body = {"values": {"rain_mm_h": 1.0}, "pad": ""}
    base = len(dumps(body))
    body["pad"] = "x" * (65536 - base)
    assert len(dumps(body)) == 65536
    assert reading(SENSOR, body)
    body["pad"] += "x"
    out = rejected(SENSOR, body)
    assert (out.reason, out.city, out.target) == ("too_large", "morotai", "awlr-sungai-pilowo")
    # the size is checked before decoding
    assert rejected(SENSOR, b"\xff" * 70_000).reason == "too_large"
    assert rejected(STATUS, b"online" * 20_000).reason == "too_large"


def test_payload_types() -> None:
    body = b'{"values": {"rain_mm_h": 1.0}}'
    for p in (bytearray(body), memoryview(body), body.decode()):
        assert isinstance(parse(SENSOR, p, RECV, RULES), Reading)  # type: ignore[arg-type]
    assert parse(SENSOR, None, RECV, RULES).reason == "bad_shape"  # type: ignore[arg-type,union-attr]


# --------------------------------------------------------------------------- SenML


def test_senml_mixed_pack() -> None:
    pack = [
        {"bn": "urn:dev:ow:10e2073a01080063:", "bt": RECV / 1000, "bu": "V", "n": "battery_v", "v": 12.6},
        {"n": "battery_v", "v": 9999, "t": 1},  # out of range
        {"n": "rain_mm_h", "u": "mm/h", "v": 4},
        {"n": "rain_mm_h", "u": "in/h", "v": 1, "t": 2},  # unit mismatch
        {"n": "label", "vs": "ok"},  # not storable
        {"n": "door", "vb": True, "u": None},
        {"n": "energy", "s": 12.5},  # sums unsupported
        "not a record",
        {"n": "water_level_cm", "u": "cm", "v": 180, "t": 3600},  # an hour ahead
        {"n": "rain_mm_h", "u": "mm/h", "v": 5},  # duplicate metric and time
        {"n": "Air_Temp_C", "u": "Cel", "v": 29.5, "t": -60},  # SenML unit name, relative to bt
        {"n": "x", "v": 1, "ext_": 3},  # must-understand field
        {"n": "rain mm", "v": 1},  # no metric id
    ]
    r = reading(SENSOR, pack)
    assert r.points == (
        Point("battery_v", RECV, 12.6, "V"),
        Point("rain_mm_h", RECV, 4.0, "mm/h"),
        Point("door", RECV, 1.0, "V"),  # bu carries forward
        Point("air_temp_c", RECV - 60_000, 29.5, "°C"),
    )
    assert r.refused == (
        "entry 1 (battery_v): out_of_range: 9999 outside [0, 60]",
        "entry 3 (rain_mm_h): unit_mismatch: unit 'in/h' is not the catalogue's 'mm/h'",
        "entry 4: bad_field: string and data values (vs, vd) are not stored",
        "entry 6: bad_field: sum values (s) are not supported",
        "entry 7: bad_field: the record is a string, not an object",
        "entry 8 (water_level_cm): bad_time: the time is 3600 s in the future (limit 300 s)",
        "entry 9 (rain_mm_h): bad_field: duplicate metric and time in the pack (first kept)",
        "entry 11: bad_field: unsupported must-understand field 'ext_'",
        "entry 12 ('rain mm'): bad_field: no metric id in the name (need [a-z0-9][a-z0-9_.-]{0,63})",
    )


def test_senml_base_fields_and_times() -> None:
    bt = RECV / 1000 - 120
    r = reading(
        SENSOR,
        [
            {"bn": "dev1/", "bt": bt, "bu": "cm", "bv": 100, "bver": 10},  # base fields only
            {"n": "water_level_cm", "v": 5},
            {"n": "water_level_cm", "v": 6, "t": 60},
            {"bn": "dev2/water_level_cm", "v": 7, "t": 120, "ut": 60},  # name from bn; ut ignored
            {"n": "urn:dev:x:rain_mm_h", "u": "mm/h", "v": 0, "t": 0.5},  # last segment of n; bv added
        ],
    )
    assert r.points == (
        Point("water_level_cm", RECV - 120_000, 105.0, "cm"),
        Point("water_level_cm", RECV - 60_000, 106.0, "cm"),
        Point("water_level_cm", RECV, 107.0, "cm"),
        Point("rain_mm_h", RECV - 119_500, 100.0, "mm/h"),
    )
    # no bt: times are relative to receipt; vb false -> 0.0
    r = reading(SENSOR, [{"n": "a", "vb": False, "t": -10}, {"n": "b", "v": 1, "t": 2.5}])
    assert [(p.metric, p.ts_ms, p.value) for p in r.points] == [("a", RECV - 10_000, 0.0), ("b", RECV + 2500, 1.0)]
    # epoch-seconds t without bt
    r = reading(SENSOR, [{"n": "a", "v": 1, "t": RECV / 1000 - 5}])
    assert r.points[0].ts_ms == RECV - 5000


@pytest.mark.parametrize(
    ("pack", "reason", "words"),
    [
        ([{"bn": 5, "n": "a", "v": 1}], "bad_field", "entry 0: bn must be a string"),
        ([{"n": "a", "v": 1}, {"bt": "now", "n": "a", "v": 1}], "bad_field", "entry 1: bt must be a number"),
        ([{"bt": True, "n": "a", "v": 1}], "bad_field", "bt must be a number"),
        ([{"bt": 1e300, "n": "a", "v": 1}], "bad_field", "bt must be a number"),
        ([{"bu": 1, "n": "a", "v": 1}], "bad_field", "bu must be a string"),
        ([{"bv": "1", "n": "a", "v": 1}], "bad_field", "bv must be a number"),
        ([{"bver": 11, "n": "a", "v": 1}], "bad_field", "SenML version 11"),
        ([{"bver": 1.5, "n": "a", "v": 1}], "bad_field", "bver must be an integer"),
        ([{"n": "a", "v": True}], "bad_field", "v is a boolean"),
        ([{"n": "a", "v": "1"}], "bad_field", "v is a string"),
        ([{"n": "a", "vb": 1}], "bad_field", "vb is a number"),
        ([{"n": "a"}], "bad_field", "no value"),
        ([{}], "bad_field", "no value"),
        ([{"n": 3, "v": 1}], "bad_field", "n is a number, not a string"),
        ([{"bn": "a:", "n": False, "v": 1}], "bad_field", "n is a boolean, not a string"),
        ([{"n": "a", "v": 1, "u": 3}], "bad_field", "u must be a string"),
        ([{"n": "a", "v": 1, "t": "soon"}], "bad_time", "t must be a number"),
        ([{"n": "a", "v": 1, "t": 1e300}], "bad_time", "t must be a number"),
        ([{"n": "a", "v": 1, "t": 400}], "bad_time", "in the future"),
        ([{"bt": 1.0e9, "n": "a", "v": 1}], "bad_time", "days old"),
        ([{"bn": "dev:"}, {"v": 1}], "bad_field", "no metric id"),
        ([{"n": "rain_mm_h", "v": -1}, {"n": "rain_mm_h", "v": 501, "t": 1}], "out_of_range", "(and 1 more)"),
        ([{"n": "rain_mm_h", "v": -1}, {"n": "a", "vs": "x"}], "no_values", "no storable value"),
        ([{"bn": "a", "bt": RECV / 1000}], "no_values", "no values"),
        ([1, 2], "bad_field", "entry 0: bad_field: the record is a number"),
    ],
)
def test_senml_refusals(pack: list, reason: str, words: str) -> None:
    out = rejected(SENSOR, pack)
    assert out.reason == reason, out
    assert words in out.detail, out.detail


# --------------------------------------------------------------------------- NGSI entities


def test_ngsi_units_relationships_and_refusals() -> None:
    entity = {
        "id": "x",
        "type": "AirQualityObserved",
        "dateObserved": "2026-11-22T08:10:00+09:00",
        "refDevice": {"type": "Relationship", "value": "dev:1"},
        "pm25Ugm3": {"type": "Number", "value": 35, "metadata": {"unitCode": {"value": "GQ"}}},
        "air_temp_c": {"type": "Number", "value": 30, "metadata": {"unitCode": {"type": "Text", "value": "CEL"}}},
        "battery_v": {"type": "Number", "value": 12, "metadata": {"unitCode": {"value": "CEL"}}},
        "rain_mm_h": 700,
        "pressure": {"type": "Number", "value": 1013, "metadata": {"unitCode": {"value": "A97"}}},
        "reversed": True,
        "label": "x",
        "nested": {"a": 1},
        "list": [1, 2],
        "location": {"type": "geo:json", "value": {"type": "Point", "coordinates": [128.29, 2.04]}},
    }
    r = reading(SENSOR, entity)
    assert r.points == (
        Point("pm25_ugm3", RECV - 300_000, 35.0, "µg/m³"),
        Point("air_temp_c", RECV - 300_000, 30.0, "°C"),
        Point("pressure", RECV - 300_000, 1013.0, "hPa"),
    )
    assert r.refused == (
        "attribute battery_v (battery_v): unit_mismatch: unit 'CEL' is not the catalogue's 'V'",
        "attribute rain_mm_h (rain_mm_h): out_of_range: 700 outside [0, 500]",
    )
    assert (r.lat, r.lon) == (2.04, 128.29)


ENT = {"id": "x", "type": "T", "t": 1}


@pytest.mark.parametrize(
    ("entity", "reason", "words"),
    [
        ({"id": "x", "type": "T", "name": "only text"}, "no_values", "no numeric attribute"),
        (ENT | {"dateObserved": "2026-11-22T08:15:00"}, "bad_time", "no UTC offset"),
        (ENT | {"dateObserved": {"type": "DateTime", "value": 5}}, "bad_time", "days old"),
        (ENT | {"observationDateTime": True}, "bad_time", "not a boolean"),
        (ENT | {"dateObserved": "2026-11-22T09:15:00+09:00"}, "bad_time", "future"),
        (ENT | {"location": {"type": "Point", "coordinates": [1]}}, "bad_field", "[lon, lat]"),
        (ENT | {"location": {"type": "Point", "coordinates": [0, 99]}}, "bad_field", "latitude"),
        ({"id": "x", "type": "T", "Bad Name": 1}, "bad_field", "attribute Bad Name: bad_field"),
        ({"id": "x", "type": "T", "waterLevel": 1, "water_level": 2}, None, "first kept"),
    ],
)
def test_ngsi_refusals(entity: dict, reason: str | None, words: str) -> None:
    out = parse(SENSOR, dumps(entity), RECV, RULES)
    if reason is None:
        assert isinstance(out, Reading) and words in out.refused[0]
        return
    assert isinstance(out, Rejected) and out.reason == reason, out
    assert words.replace("not a boolean", "a boolean") in out.detail, out.detail


def test_ngsi_time_falls_through_unreadable_candidates() -> None:
    r = reading(
        SENSOR,
        {
            "id": "x",
            "type": "T",
            "v": 1,
            "dateObserved": "2026-11-22T08:00:00",
            "dateObservedTo": "2026-11-22T08:14:00+09:00",
        },
    )
    assert r.points[0].ts_ms == RECV - 60_000


# --------------------------------------------------------------------------- tickets


def test_ticket_native_event() -> None:
    ev = parse(
        SERVICE,
        dumps(
            {
                "ticket_id": "112-2026-000123",
                "service": "ambulans",
                "status": "open",
                "priority": "critical",
                "district": "morotai-utara",
                "ts": "2026-11-22T08:16:04+09:00",
                "title": "Kecelakaan lalu lintas",
                "lat": 2.31,
                "lon": 128.45,
                "sla_minutes": 45,
            }
        ),
        RECV + 64_000,
        RULES,
    )
    assert ev == TicketEvent(
        city="morotai",
        agency="layanan-112",
        ticket_id="112-2026-000123",
        status="open",
        ts_ms=RECV + 64_000,
        service="ambulans",
        priority="critical",
        district="morotai-utara",
        title="Kecelakaan lalu lintas",
        lat=2.31,
        lon=128.45,
        sla_minutes=45,
    )


@pytest.mark.parametrize(
    ("extra", "field", "value"),
    [
        ({"status": "In Progress"}, "status", "in_progress"),
        ({"status": " in-progress "}, "status", "in_progress"),
        ({"status": "CLOSED"}, "status", "closed"),
        ({"priority": "HIGH"}, "priority", "high"),
        ({"priority": None}, "priority", "normal"),
        ({"service": None, "service_code": 234}, "service", "234"),
        ({"service": "Jalan-Rusak"}, "service", "jalan-rusak"),
        ({"ticket_id": None, "service_request_id": 638344}, "ticket_id", "638344"),
        ({"ticket_id": "a:b.c_d-1"}, "ticket_id", "a:b.c_d-1"),
        ({"title": None, "service_name": "Aceras"}, "title", "Aceras"),
        ({"title": "t" * 500}, "title", "t" * 200),
        ({"description": "d" * 5000}, "description", "d" * 2000),
        ({"title": "   "}, "title", None),
        ({"lat": 2.0, "long": 128.0}, "lon", 128.0),
        ({"location": {"type": "Point", "coordinates": [128.1, 2.1]}}, "lat", 2.1),
        ({"sla_minutes": 525600}, "sla_minutes", 525600),
        ({"sla_minutes": 30.0}, "sla_minutes", 30),
        ({"ts": None, "requested_datetime": "2026-11-22T08:10:00+09:00"}, "ts_ms", RECV - 300_000),
        (
            {"ts": None, "requested_datetime": "2026-11-22T08:10:00+09:00", "updated_datetime": RECV / 1000},
            "ts_ms",
            RECV,
        ),
        ({"ts": None}, "ts_ms", RECV),
        ({"expected_datetime": "2027-01-01T00:00:00Z"}, "due_ms", ms("2027-01-01T00:00:00Z")),
    ],
)
def test_ticket_fields(extra: dict, field: str, value: object) -> None:
    body = {"ticket_id": "t1", "status": "open", "ts": RECV} | extra
    ev = parse(SERVICE, dumps(body), RECV, RULES)
    assert isinstance(ev, TicketEvent), ev
    assert getattr(ev, field) == value


@pytest.mark.parametrize(
    ("extra", "reason", "words"),
    [
        ({"ticket_id": None}, "bad_field", "ticket_id"),
        ({"ticket_id": ""}, "bad_field", "ticket_id"),
        ({"ticket_id": "x'; DROP TABLE tickets;--"}, "bad_field", "ticket_id"),
        ({"ticket_id": "a" * 65}, "bad_field", "ticket_id"),
        ({"ticket_id": True}, "bad_field", "ticket_id"),
        ({"status": None}, "bad_field", "status is missing"),
        ({"status": "done"}, "bad_field", "status 'done'"),
        ({"status": 1}, "bad_field", "status 1"),
        ({"priority": "urgent"}, "bad_field", "priority"),
        ({"priority": 3}, "bad_field", "priority"),
        ({"service": "jalan rusak"}, "bad_field", "service"),
        ({"service": ["x"]}, "bad_field", "service"),
        ({"district": "Utara"}, "bad_field", "district"),
        ({"ts": "2026-11-22T08:15:00"}, "bad_time", "no UTC offset"),
        ({"ts": "2027-11-22T08:15:00Z"}, "bad_time", "future"),
        ({"expected_datetime": "2026-11-23"}, "bad_time", "expected_datetime"),
        ({"lat": 2.0}, "bad_field", "go together"),
        ({"lat": 2.0, "long": 200}, "bad_field", "long 200"),
        ({"title": 5}, "bad_field", "title must be a string"),
        ({"sla_minutes": 0}, "bad_field", "sla_minutes"),
        ({"sla_minutes": 525601}, "bad_field", "sla_minutes"),
        ({"sla_minutes": True}, "bad_field", "sla_minutes"),
        ({"sla_minutes": 1.5}, "bad_field", "sla_minutes"),
    ],
)
def test_ticket_refusals(extra: dict, reason: str, words: str) -> None:
    body = {"ticket_id": "t1", "status": "open"} | extra
    out = rejected(SERVICE, {k: v for k, v in body.items() if v is not None})
    assert (out.reason, out.city, out.target) == (reason, "morotai", "layanan-112"), out
    assert words in out.detail, out.detail


def test_ticket_shapes() -> None:
    assert rejected(SERVICE, b"[]").reason == "bad_shape"
    assert rejected(SERVICE, b"\x80").reason == "bad_encoding"
    assert rejected(SERVICE, b"{").reason == "bad_json"
    assert all(s in _STATUS_MAP for s in TICKET_STATUSES)


# --------------------------------------------------------------------------- status


@pytest.mark.parametrize(
    ("payload", "online"),
    [
        (b"online", True),
        (b"offline", False),
        (b"  ONLINE\r\n", True),
        (b"Offline", False),
        (b'"online"', True),
        (b'{"status": "Offline"}', False),
        (b'{"status": "online", "ts": 1}', True),
    ],
)
def test_status(payload: bytes, online: bool) -> None:
    assert parse(STATUS, payload, RECV, RULES) == SourceStatus("morotai", "awlr-sungai-pilowo", online, RECV)


@pytest.mark.parametrize("payload", [b"", b"on", b"1", b"true", b"{}", b'{"status": 1}', b"\xff", b"null", b"[1]"])
def test_status_refusals(payload: bytes) -> None:
    out = rejected(STATUS, payload)
    assert (out.reason, out.target) == ("bad_field", "awlr-sungai-pilowo")


# --------------------------------------------------------------------------- rules and internals


def test_rules_from_profile() -> None:
    from app.profile import load_profile

    profile = load_profile("morotai")
    s = SimpleNamespace(
        ingest_unknown_metric="quarantine",
        ingest_max_payload_bytes=1024,
        ingest_max_future_s=60,
        retention_raw_days=7,
        feedback_time_skew_s=600,
    )
    rules = ParseRules.from_profile(profile, s)  # type: ignore[arg-type]
    assert rules.cities == frozenset({"morotai"})
    assert rules.metrics["battery_v"] == MetricRule("V", 0.0, 60.0)
    assert len(rules.metrics) == len(profile.metrics)
    assert (rules.unknown_metric, rules.max_payload_bytes, rules.max_future_ms, rules.max_age_ms) == (
        "quarantine",
        1024,
        60_000,
        7 * 86_400_000,
    )
    assert rules.book is not None and rules.book.skew_ms == 600_000 and "dinas-kesehatan" in rules.book.agencies
    with pytest.raises(TypeError):
        rules.metrics["x"] = MetricRule("x", 0, 1)  # type: ignore[index]
    with pytest.raises(ValueError, match="unknown_metric"):
        ParseRules(frozenset(), {}, unknown_metric="drop")


def test_rules_from_real_settings() -> None:
    from app.profile import load_profile
    from app.settings import Settings

    rules = ParseRules.from_profile(load_profile("morotai"), Settings(_env_file=None))
    assert rules.max_payload_bytes == 65536 and rules.max_age_ms == 30 * 86_400_000
    r = parse("city/morotai/sensor/x", b'{"values": {"bin_fill_pct": 80, "streetlight_on": 1}}', RECV, rules)
    assert isinstance(r, Reading) and metrics(r) == {"bin_fill_pct": 80.0, "streetlight_on": 1.0}


def test_snake_case() -> None:
    cases = {
        "relativeHumidity": "relative_humidity",
        "co2": "co2",
        "pH": "ph",
        "NO3": "no3",
        "averageVehicleSpeed": "average_vehicle_speed",
        "pm2.5": "pm2.5",
        "deviceID": "device_id",
        "no2Level": "no2_level",
        "airTempC": "air_tempc",
        "pm25Ugm3": "pm25_ugm3",
        "Bad Name": None,
    }
    assert {k: _snake(k) for k in cases} == cases


# --------------------------------------------------------------------------- never raises

TOPICS = (SENSOR, SERVICE, STATUS)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)
# Values under the field names the parser looks at, to reach its inner branches.
FIELD_NAMES = (
    "ts",
    "values",
    "district",
    "lat",
    "lon",
    "long",
    "id",
    "type",
    "value",
    "metadata",
    "unitCode",
    "location",
    "coordinates",
    "dateObserved",
    "dateObservedTo",
    "observationDateTime",
    "bn",
    "bt",
    "bu",
    "bv",
    "bver",
    "n",
    "u",
    "v",
    "vb",
    "vs",
    "s",
    "t",
    "x_",
    "ticket_id",
    "service_request_id",
    "status",
    "priority",
    "service",
    "service_code",
    "title",
    "service_name",
    "description",
    "sla_minutes",
    "expected_datetime",
    "updated_datetime",
    "requested_datetime",
    "rain_mm_h",
    "battery_v",
    "relativeHumidity",
)
field_values = st.one_of(
    json_values,
    st.sampled_from(["2026-11-22T08:15:00+09:00", "2026-11-22T08:15:00", "Point", "geo:json", "open", "a/b"]),
    st.integers(min_value=RECV // 1000 - 10**6, max_value=RECV + 10**6),
    st.floats(-200, 2000),
)
structured = st.recursive(
    st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=8),
    lambda children: (
        st.dictionaries(st.sampled_from(FIELD_NAMES), children | field_values, max_size=6)
        | st.lists(children, max_size=6)
    ),
    max_leaves=12,
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _total(topic: str, payload: bytes, rules: ParseRules = RULES) -> None:
    out = parser._parse(topic, payload, RECV, rules)  # the unguarded body: must not raise either
    assert isinstance(out, PARSED_TYPES)
    assert parse(topic, payload, RECV, rules) == out
    if isinstance(out, Rejected):
        assert out.reason in REASONS
        assert "could not be interpreted" not in out.detail
        assert len(out.detail) < 600


@FAST
@given(topic=st.sampled_from(TOPICS), payload=st.binary(max_size=200))
def test_arbitrary_bytes_never_raise(topic: str, payload: bytes) -> None:
    _total(topic, payload)


@FAST
@given(topic=st.sampled_from(TOPICS), value=json_values, strict=st.booleans())
def test_arbitrary_json_never_raises(topic: str, value: object, strict: bool) -> None:
    _total(topic, json.dumps(value, allow_nan=True).encode(), STRICT if strict else RULES)


@settings(max_examples=500, deadline=None)
@given(topic=st.sampled_from(TOPICS), value=structured, strict=st.booleans())
def test_structured_json_never_raises(topic: str, value: object, strict: bool) -> None:
    _total(topic, json.dumps(value, allow_nan=True).encode(), STRICT if strict else RULES)


@FAST
@given(
    topic=st.one_of(
        st.text(max_size=100),
        st.lists(
            st.sampled_from(["city", "morotai", "sensor", "service", "status", "a1", "", "A", "+", "#"]), max_size=6
        ).map("/".join),
    )
)
def test_arbitrary_topics_never_raise(topic: str) -> None:
    _total(topic, b'{"values": {"rain_mm_h": 1}}')


def test_safety_net_keeps_city_and_target(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_args: object) -> None:
        raise KeyError("unexpected")

    monkeypatch.setattr(parser, "_TOPICS", {})
    monkeypatch.setitem(parser._HANDLERS, "sensor", boom)
    out = parse(SENSOR, b"{}", RECV, RULES)
    assert out == Rejected(
        "bad_shape", "the payload could not be interpreted (KeyError)", "morotai", "awlr-sungai-pilowo"
    )
    with pytest.raises(KeyError):
        parser._parse(SENSOR, b"{}", RECV, RULES)


def test_topic_that_is_not_text() -> None:
    out = parse(b"city/morotai/sensor/a1", b"{}", RECV, RULES)  # type: ignore[arg-type]
    assert isinstance(out, Rejected) and out.reason == "bad_topic"


# --------------------------------------------------------------------------- LAPOR! stages (issue 14)


@pytest.mark.parametrize(
    ("said", "stage"),
    [
        ("verifikasi", "verifikasi"),
        ("Tindak Lanjut", "tindak_lanjut"),
        ("tindak-lanjut", "tindak_lanjut"),
        ("selesai", "selesai"),
    ],
)
def test_a_ticket_event_carries_its_lapor_stage(said: str, stage: str) -> None:
    payload = json.dumps({"ticket_id": "L-1", "status": "open", "stage": said}).encode()
    ev = parse(SERVICE, payload, RECV, RULES)
    assert isinstance(ev, TicketEvent), ev
    assert ev.stage == stage
    plain = parse(SERVICE, b'{"ticket_id": "L-1", "status": "open"}', RECV, RULES)
    assert isinstance(plain, TicketEvent) and plain.stage is None


@pytest.mark.parametrize("said", ["disposisi", 3, ""])
def test_an_unknown_stage_is_refused_by_name(said: object) -> None:
    out = rejected(SERVICE, json.dumps({"ticket_id": "L-1", "status": "open", "stage": said}).encode())
    assert out.reason == "bad_field"
    assert "stage" in out.detail and "verifikasi, tindak_lanjut, selesai" in out.detail
