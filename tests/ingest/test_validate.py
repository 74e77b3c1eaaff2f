"""The dry run (ingest.validate) and the warnings (ingest.feedback): pure, no broker, no database."""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from app.profile import load_profile
from app.settings import Settings
from ingest.feedback import advise, nearest
from ingest.messages import Reading, Rejected, TicketEvent
from ingest.parser import ParseRules, parse, parse_all
from ingest.validate import REASONS_ID, check
from ingest.writer import Item, WriteResult

PROFILE = load_profile("morotai")
RULES = ParseRules.from_profile(PROFILE, Settings())
NOW = 1_795_400_000_000
SENSOR = "city/morotai/sensor/awlr-sungai-pilowo"


def run(topic: str, payload: object, **kw: object) -> dict:
    body = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return check(topic, body, RULES, received_ms=NOW, **kw)


def reasons(items: list[dict]) -> list[str]:
    return [i["reason"] for i in items]


def test_a_ticket_with_two_mistakes_gets_both_errors_with_their_paths() -> None:
    out = run("city/morotai/service/bpbd", {"ticket_id": "t-1", "status": "opened", "priority": "urgent"})
    assert out["ok"] is False and out["kind"] == "ticket" and out["would_store"] == []
    assert [(e["reason"], e["path"]) for e in out["errors"]] == [("bad_field", "$.status"), ("bad_field", "$.priority")]
    # The live path refuses it for the first of them, as before.
    live = parse(
        "city/morotai/service/bpbd",
        orjson.dumps({"ticket_id": "t-1", "status": "opened", "priority": "urgent"}),
        NOW,
        RULES,
    )
    assert isinstance(live, Rejected) and live.detail == out["errors"][0]["detail"]
    for e in out["errors"]:
        assert e["detail_id"].startswith(REASONS_ID["bad_field"])


def test_a_reading_with_a_bad_time_and_a_value_out_of_range_gets_both() -> None:
    out = run(SENSOR, {"ts": "2026-11-22T08:15:00", "values": {"water_level_cm": 99999, "rain_mm_h": 1}})
    assert out["ok"] is False
    assert [(e["reason"], e["path"]) for e in out["errors"]] == [
        ("bad_time", "$.ts"),
        ("out_of_range", "$.values.water_level_cm"),
    ]


def test_senml_entries_refused_alone_are_errors_of_an_accepted_pack() -> None:
    pack = [{"n": "water_level_cm", "u": "cm", "v": 99999}, {"n": "tide_cm", "u": "cm", "v": 80}]
    out = run(SENSOR, pack)
    assert out["ok"] is True and out["kind"] == "senml"
    assert [(e["reason"], e["path"]) for e in out["errors"]] == [("out_of_range", "$[0]")]
    assert [(w["metric"], w["value"]) for w in out["would_store"]] == [("tide_cm", 80.0)]


def test_every_fault_of_a_pack_refused_whole_is_listed() -> None:
    out = run(SENSOR, [{"n": "water_level_cm", "v": 99999}, {"n": "tide_cm", "v": "high"}])
    assert out["ok"] is False
    assert reasons(out["errors"]) == ["out_of_range", "bad_field"]


def test_the_waterlevel_typo_is_accepted_with_a_warning_naming_the_metric() -> None:
    out = run(SENSOR, {"values": {"waterlevel": 120}})
    assert out["ok"] is True and out["errors"] == []
    [w] = out["warnings"]
    assert w["reason"] == "unknown_metric" and w["nearest"] == ["water_level_cm"] and w["path"] == "$.values.waterlevel"
    assert "water_level_cm" in w["detail"] and "water_level_cm" in w["detail_id"]


def test_an_agency_by_its_short_name_and_a_service_of_another_agency_are_warned() -> None:
    ticket = {"ticket_id": "112-1", "service": "ambulans", "status": "open"}
    out = run("city/morotai/service/dinkes", ticket)
    assert out["ok"] is True
    by = {w["reason"]: w for w in out["warnings"]}
    assert by["unknown_agency"]["nearest"] == ["dinas-kesehatan"]  # `Dinkes` is its short name
    assert by["service_agency"]["nearest"] == ["layanan-112"]
    assert run("city/morotai/service/layanan-112", ticket)["warnings"] == []


def test_a_time_far_from_the_receive_time_and_an_unknown_district_are_warned() -> None:
    two_weeks = NOW / 1000 - 14 * 86400
    out = run(SENSOR, {"ts": two_weeks, "values": {"water_level_cm": 1}, "district": "morotai-selatn"})
    by = {w["reason"]: w for w in out["warnings"]}
    assert "14.0 days before" in by["time_skew"]["detail"] and "hari" in by["time_skew"]["detail_id"]
    assert by["unknown_district"]["nearest"][0] == "morotai-selatan"
    assert run(SENSOR, {"ts": NOW / 1000 - 60, "values": {"water_level_cm": 1}})["warnings"] == []


def test_an_unknown_metric_near_a_known_one_in_another_unit_is_warned_twice() -> None:
    out = run(SENSOR, [{"n": "water_level", "u": "m", "v": 1.2}])
    assert reasons(out["warnings"]) == ["unknown_metric", "unit"]


def test_first_sight_needs_the_database_and_names_near_sources() -> None:
    out = run(
        "city/morotai/sensor/awlr-sungai-pilow", {"values": {"water_level_cm": 1}}, known_source=lambda c, s: False
    )
    [w] = out["warnings"]
    assert w["reason"] == "first_sight" and w["nearest"][0] == "awlr-sungai-pilowo"
    assert (
        run("city/morotai/sensor/x", {"values": {"water_level_cm": 1}}, known_source=lambda c, s: True)["warnings"]
        == []
    )


def test_status_and_topics_are_answered_with_their_kind() -> None:
    assert run("city/morotai/status/awlr-x", b"offline")["would_store"] == [{"source_id": "awlr-x", "online": False}]
    bad = run("city/morotai/sensors/awlr-x", {"values": {"water_level_cm": 1}})
    assert bad["ok"] is False and bad["kind"] is None and reasons(bad["errors"]) == ["bad_topic"]
    ngsi = run(SENSOR, {"id": "x", "type": "WaterObserved", "temperature": 25})
    assert ngsi["kind"] == "ngsi" and ngsi["ok"] is True


PAYLOADS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["open", "urgent", "2026-11-22T08:15:00+09:00", "water_level_cm", "morotai-jaya"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "ticket_id",
                    "status",
                    "priority",
                    "ts",
                    "values",
                    "district",
                    "lat",
                    "lon",
                    "service",
                    "water_level_cm",
                    "n",
                    "v",
                    "u",
                    "t",
                    "sla_minutes",
                    "title",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from([SENSOR, "city/morotai/service/bpbd", "city/morotai/status/a", "city/x/sensor/a"]),
    payload=PAYLOADS,
)
def test_the_dry_run_has_the_live_verdict_and_its_first_error_is_the_refusal(topic: str, payload: object) -> None:
    body = orjson.dumps(payload)
    live = parse(topic, body, NOW, RULES)
    parsed, faults = parse_all(topic, body, NOW, RULES)
    assert parsed == live
    if isinstance(live, Rejected):
        # A pack or object whose entries all failed is refused as "no storable value: <first entry>...".
        assert faults and faults[0].detail in live.detail
        assert live.reason in (faults[0].reason, "no_values")
    elif isinstance(live, Reading):
        assert len(faults) == len(live.refused)
    else:
        assert faults == []


def test_nearest_names() -> None:
    assert nearest("waterlevel", ["water_level_cm", "rain_mm_h", "tide_cm"]) == ["water_level_cm"]
    assert nearest("zzz", ["water_level_cm"]) == []


def test_live_advice_of_a_batch_names_each_accepted_message_with_a_warning() -> None:
    now = int(time.time() * 1000)
    raw = [
        (SENSOR, orjson.dumps({"values": {"waterlevel": 1}})),
        (SENSOR, orjson.dumps({"values": {"water_level_cm": 1}})),
        (SENSOR, orjson.dumps({"values": {"waterlevel": 2}})),  # counted with the first: one answer a batch
        ("city/morotai/sensor/new-buoy", orjson.dumps({"values": {"tide_cm": 1}})),
        (SENSOR, b"{nope"),
    ]
    items = [Item(t, p, now, parse(t, p, now, RULES)) for t, p in raw]
    result = WriteResult(sources_new=[("morotai", "new-buoy")])
    advice = advise(items, result, RULES)
    assert [(a.target, [w.reason for w in a.warnings], a.count) for a in advice] == [
        ("awlr-sungai-pilowo", ["unknown_metric"], 2),
        ("new-buoy", ["first_sight"], 1),
    ]


@settings(max_examples=300, deadline=None)
@given(
    topic=st.sampled_from([SENSOR, "city/morotai/service/bpbd", "city/morotai/service/dinkes"]),
    payload=PAYLOADS,
    age_s=st.sampled_from([0, 600, 7200, -120]),
)
def test_the_live_paths_quick_check_agrees_with_the_warnings(topic: str, payload: object, age_s: int) -> None:
    from ingest.feedback import _suspect, warnings_of

    recv = NOW + age_s * 1000
    p = parse(topic, orjson.dumps(payload), NOW, RULES)
    if isinstance(p, (Reading, TicketEvent)):
        assert _suspect(p, recv, RULES.book) == bool(warnings_of(p, recv, RULES.book))


@pytest.mark.parametrize("reason", sorted(__import__("ingest.messages", fromlist=["REASONS"]).REASONS))
def test_every_reason_has_its_indonesian_text(reason: str) -> None:
    assert REASONS_ID[reason]


def test_a_cap_alert_dry_run_says_what_would_be_stored_or_why_not() -> None:
    from tests.app.alerts.capdocs import cap

    ok = run("city/morotai/alert/bpbd-morotai", cap("dry-1"))
    assert ok["ok"] and ok["kind"] == "cap"
    assert ok["would_store"][0]["identifier"] == "dry-1" and ok["would_store"][0]["areas"] == 1
    bad = run("city/morotai/alert/bpbd-morotai", b"<alert")
    assert not bad["ok"] and reasons(bad["errors"]) == ["bad_xml"]
    assert "XML" in bad["errors"][0]["detail_id"]
