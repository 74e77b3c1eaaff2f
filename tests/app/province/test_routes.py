"""`GET /api/v1/province` and `/api/v1/province.csv`: every city the caller may see, on both databases.

The deployment is the shipped province profile (Morotai, Ternate, Halmahera
Utara). Morotai and Ternate get data through the ingestor's own writer (with
its alarm step); Halmahera Utara never sends anything.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.api.main import create_app
from app.auth.tokens import create_token
from app.http.timefmt import now_ms
from app.profile import SHIPPED_DIR, load_profile
from app.services.queries import service_status
from app.settings import Settings
from ingest.committer import WritePath
from ingest.messages import Point, Reading, TicketEvent
from ingest.writer import BatchWriter, Item
from tests.app.conftest import auth

MIN = 60_000
HOUR = 60 * MIN
RIVER = "awlr-sungai-pilowo"  # Morotai: water_level_cm, interval 60 s
TOBOKO = "awlr-kali-toboko"  # Ternate: water_level_cm, interval 60 s


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=0, profile="maluku-utara")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def tokens(client: TestClient) -> dict[str, str]:
    with client.app.state.engine.begin() as conn:
        return {
            "province": create_token(conn=conn, name="province", role="viewer"),
            "ternate": create_token(conn=conn, name="ternate", role="viewer", city="ternate"),
            "morotai-op": create_token(conn=conn, name="morotai-op", role="operator", city="morotai"),
        }


def reading(city: str, source: str, at_ms: int, **values: float) -> Item:
    r = Reading(city, source, tuple(Point(m, at_ms, v) for m, v in values.items()))
    return Item(f"city/{city}/sensor/{source}", b"{}", at_ms, r)


def ticket(city: str, agency: str, tid: str, status: str, at_ms: int, *, service: str) -> Item:
    return Item(
        f"city/{city}/service/{agency}", b"{}", at_ms, TicketEvent(city, agency, tid, status, at_ms, service=service)
    )


def write(engine: Engine, settings: Settings, city: str, batches: list[list[Item]]) -> None:
    w = WritePath(BatchWriter(engine, load_profile(city), settings))
    try:
        for items in batches:
            w.write(items)
    finally:
        w.close()


def seed(client: TestClient, settings: Settings, tokens: dict[str, str], now: int) -> None:
    engine = client.app.state.engine
    write(
        engine,
        settings,
        "morotai",
        [
            [reading("morotai", RIVER, now - 1000, water_level_cm=220.0)],  # online, over the threshold: an alarm
            [
                ticket(
                    "morotai", "layanan-112", "m-late", "open", now - 2 * HOUR, service="ambulans"
                ),  # SLA 60 min: overdue
                ticket("morotai", "layanan-112", "m-fresh", "open", now - 10 * MIN, service="ambulans"),
                ticket("morotai", "layanan-112", "m-ok", "open", now - 3 * HOUR, service="ambulans"),
                ticket("morotai", "layanan-112", "m-slow", "open", now - 10 * HOUR, service="ambulans"),
                ticket("morotai", "bpbd", "m-flood", "open", now - 5 * HOUR, service="banjir"),  # SLA 240 min
            ],
            [
                ticket("morotai", "layanan-112", "m-ok", "resolved", now - 150 * MIN, service="ambulans"),  # on time
                ticket("morotai", "layanan-112", "m-slow", "resolved", now - 5 * HOUR, service="ambulans"),  # late
                ticket("morotai", "bpbd", "m-flood", "resolved", now - 4 * HOUR, service="banjir"),  # on time
            ],
        ],
    )
    write(
        engine,
        settings,
        "ternate",
        [
            [reading("ternate", TOBOKO, now - 30 * MIN, water_level_cm=50.0)],  # 30 min ago: offline, link down
            [ticket("ternate", "bpbd", "t-flood", "open", now - 40 * HOUR, service="banjir")],
            [ticket("ternate", "bpbd", "t-flood", "resolved", now - 32 * HOUR, service="banjir")],  # late
        ],
    )
    r = client.post(
        "/api/v1/incidents",
        json={"title": "Banjir Daruba", "type": "banjir", "severity": "major"},
        headers=auth(tokens["morotai-op"]),
    )
    assert r.status_code in (200, 201), r.text


def open_alarms(engine: Engine, city: str) -> dict[str, int]:
    with engine.connect() as c:
        rows = c.execute(
            text(
                "SELECT severity, count(*) FROM alarms WHERE city = :c AND state IN ('active', 'acknowledged') "
                "GROUP BY severity"
            ),
            {"c": city},
        ).all()
    return {sev: int(n) for sev, n in rows}


def test_every_citys_figures_the_league_and_the_pillars(
    client: TestClient, settings: Settings, tokens: dict[str, str]
) -> None:
    before = now_ms()
    seed(client, settings, tokens, before)
    r = client.get("/api/v1/province", headers=auth(tokens["province"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["province"] == {
        "id": "maluku-utara",
        "name": "Provinsi Maluku Utara",
        "kemendagri": "82",
        "center": {"lat": 1.45, "lon": 127.75},
        "zoom": 7.4,
    }
    assert body["window_days"] == 30
    assert body["computed_at"].endswith("Z")
    cities = {c["id"]: c for c in body["cities"]}
    assert list(cities) == ["morotai", "ternate", "halmahera-utara"]

    m, t, h = cities["morotai"], cities["ternate"], cities["halmahera-utara"]
    assert (m["name"], m["kind"], m["kemendagri"], m["timezone"]) == (
        "Kabupaten Pulau Morotai",
        "kabupaten",
        "82.07",
        "Asia/Jayapura",
    )
    assert m["outline"] and all(len(pt) == 2 for ring in m["outline"] for pt in ring)

    # Morotai: one source heard a second ago, the rest registered and silent.
    total = len(load_profile("morotai").sources)
    assert m["sources"] == {"online": 1, "stale": 0, "offline": total - 1, "total": total}
    assert m["tickets"] == {"open": 2, "overdue": 1}
    alarms = open_alarms(client.app.state.engine, "morotai")
    assert alarms, "the river's level over its threshold raises an alarm"
    assert {k: v for k, v in m["alarms"].items() if v} == alarms
    worst = next(s for s in ("critical", "major", "minor", "warning") if alarms.get(s))
    assert m["state"] == worst
    assert m["incidents"] == {"open": 1}
    assert m["sla_pct_30d"] == 66.7  # m-ok and m-flood on time, m-slow late
    assert m["link"] == "ok" and m["expected_interval_s"] == 60
    assert before - 1000 <= _ms(m["last_received"]) <= now_ms()
    # environment: banjir 1/1 on time (100) and the river reporting water_level_cm with an open alarm on it (0)
    assert m["pillars"]["environment"] == 50.0
    assert m["pillars"]["society"] == 50.0  # ambulans: m-ok on time, m-slow late; no society sensor reporting
    assert m["pillars"]["branding"] is None

    # Ternate: heard from 30 minutes ago (30x its 60 s interval): link down, the gauge offline, no alarm.
    tn = len(load_profile("ternate").sources)
    assert t["sources"] == {"online": 0, "stale": 0, "offline": tn, "total": tn}
    assert t["tickets"] == {"open": 0, "overdue": 0}
    assert t["alarms"] == {"critical": 0, "major": 0, "minor": 0, "warning": 0}
    assert (t["state"], t["link"], t["sla_pct_30d"]) == ("ok", "down", 0.0)
    assert t["incidents"] == {"open": 0}
    assert abs(_ms(t["last_received"]) - (before - 30 * MIN)) < MIN  # the gauge's receive time (or its minute)
    assert t["pillars"]["environment"] == 0.0  # banjir late, the gauge offline

    # Halmahera Utara: never heard from.
    assert (h["state"], h["link"], h["last_received"], h["sla_pct_30d"]) == ("no_data", "never", None, None)
    assert set(h["pillars"].values()) == {None}

    league = {row["agency"]: row for row in body["league"]}
    bpbd = league["bpbd"]
    assert (bpbd["short"], bpbd["name"]) == ("BPBD", "Badan Penanggulangan Bencana Daerah")
    assert (bpbd["overall_pct"], bpbd["tickets"], bpbd["opened"]) == (50.0, 2, 2)
    assert bpbd["cities"]["morotai"] == {"sla_pct": 100.0, "tickets": 1, "opened": 1}
    assert bpbd["cities"]["ternate"] == {"sla_pct": 0.0, "tickets": 1, "opened": 1}
    assert bpbd["cities"]["halmahera-utara"] == {"sla_pct": None, "tickets": 0, "opened": 0}
    l112 = league["layanan-112"]
    assert (l112["overall_pct"], l112["tickets"], l112["opened"]) == (50.0, 2, 4)
    assert l112["cities"]["morotai"] == {"sla_pct": 50.0, "tickets": 2, "opened": 4}
    # The same figures as the regent view's service status (app.services.queries) of each city over the window.
    at = _ms(body["computed_at"])
    with client.app.state.engine.connect() as conn:
        for c in body["cities"]:
            st = service_status(
                conn=conn, profile=load_profile(c["id"]), start_ms=at - 30 * 24 * HOUR, end_ms=at, now_ms=at
            )
            assert c["sla_pct_30d"] == st.overall.sla_pct
            assert (c["tickets"]["open"], c["tickets"]["overdue"]) == (st.overall.open, st.overall.overdue)
            for block in st.agencies:
                mine = league[block.agency]["cities"][c["id"]]
                assert (mine["sla_pct"], mine["tickets"], mine["opened"]) == (
                    block.tally.sla_pct,
                    block.tally.resolved_with_due,
                    block.tally.opened,
                )
    # Best pooled SLA first, agencies without one last.
    pcts = [row["overall_pct"] for row in body["league"]]
    rated = [p for p in pcts if p is not None]
    assert rated == sorted(rated, reverse=True) and pcts[: len(rated)] == rated
    assert pcts[0] == 50.0  # bpbd and layanan-112 tie; every other agency has no SLA figure


def test_a_city_token_sees_its_city_only(client: TestClient, settings: Settings, tokens: dict[str, str]) -> None:
    seed(client, settings, tokens, now_ms())
    r = client.get("/api/v1/province", headers=auth(tokens["ternate"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["id"] for c in body["cities"]] == ["ternate"]
    # The league counts Ternate's tickets only: Morotai's agencies' figures are not there.
    bpbd = next(row for row in body["league"] if row["agency"] == "bpbd")
    assert list(bpbd["cities"]) == ["ternate"] and (bpbd["overall_pct"], bpbd["tickets"]) == (0.0, 1)
    assert all(list(row["cities"]) == ["ternate"] for row in body["league"])
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/province.csv", headers=auth(tokens["ternate"])).text)))
    assert [row["city"] for row in rows] == ["ternate"]
    # Asking for another city by name is refused, not answered.
    assert (
        client.get("/api/v1/province", params={"city": "morotai"}, headers=auth(tokens["ternate"])).status_code == 403
    )


def test_anonymous_callers_get_401(client: TestClient) -> None:
    assert client.get("/api/v1/province").status_code == 401
    assert client.get("/api/v1/province.csv").status_code == 401
    assert client.get("/api/v1/province", headers=auth("not-a-token")).status_code == 401


def test_the_csv_has_a_row_per_city_with_the_same_figures(
    client: TestClient, settings: Settings, tokens: dict[str, str]
) -> None:
    seed(client, settings, tokens, now_ms())
    body = client.get("/api/v1/province", headers=auth(tokens["province"])).json()
    r = client.get("/api/v1/province.csv", headers=auth(tokens["province"]))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="maluku-utara-' in r.headers["content-disposition"]
    rows = {row["city"]: row for row in csv.DictReader(io.StringIO(r.text))}
    assert list(rows) == ["morotai", "ternate", "halmahera-utara"]
    for c in body["cities"]:
        row = rows[c["id"]]
        assert (row["state"], row["link"]) == (c["state"], c["link"])
        assert int(row["sources_online"]) == c["sources"]["online"]
        assert int(row["sources_total"]) == c["sources"]["total"]
        assert (int(row["tickets_open"]), int(row["tickets_overdue"])) == (
            c["tickets"]["open"],
            c["tickets"]["overdue"],
        )
        assert {s: int(row[f"alarms_{s}"]) for s in c["alarms"]} == c["alarms"]
        assert int(row["incidents_open"]) == c["incidents"]["open"]
        assert row["sla_pct_30d"] == ("" if c["sla_pct_30d"] is None else str(c["sla_pct_30d"]))
        for p, v in c["pillars"].items():
            assert row[f"pillar_{p}"] == ("" if v is None else str(v))
    assert rows["morotai"]["last_received_at"].endswith("Z")
    assert rows["morotai"]["last_received_local"].endswith("+09:00")  # WIT
    assert rows["halmahera-utara"]["last_received_at"] == ""


def test_the_csv_defuses_a_formula_looking_cell(db_url: str, tmp_path: Path) -> None:
    # A city profile whose name a spreadsheet would run as a formula.
    data = yaml.safe_load((SHIPPED_DIR / "ternate.yaml").read_text(encoding="utf-8"))
    data["city"]["name"] = '=HYPERLINK("http://evil.example/","Kota Ternate")'
    evil = tmp_path / "ternate-evil.yaml"
    evil.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    settings = Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=0, profile=f"morotai,{evil}")
    with TestClient(create_app(settings)) as client:
        with client.app.state.engine.begin() as conn:
            token = create_token(conn=conn, name="province", role="viewer")
        body = client.get("/api/v1/province", headers=auth(token)).json()
        assert body["province"] is None  # a comma list names no province
        assert body["cities"][1]["name"] == data["city"]["name"]  # JSON carries it as it is
        r = client.get("/api/v1/province.csv", headers=auth(token))
        assert r.status_code == 200
        assert 'filename="morotai-ternate-' in r.headers["content-disposition"]
        rows = {row["city"]: row for row in csv.DictReader(io.StringIO(r.text))}
        assert rows["ternate"]["name"] == "'" + data["city"]["name"]
        assert rows["morotai"]["name"] == "Kabupaten Pulau Morotai"


def _ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def test_the_response_cache_keeps_each_scopes_answer_apart(db_url: str) -> None:
    settings = Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=5, profile="maluku-utara")
    with TestClient(create_app(settings)) as client:
        with client.app.state.engine.begin() as conn:
            wide = create_token(conn=conn, name="province", role="viewer")
            ternate = create_token(conn=conn, name="ternate", role="viewer", city="ternate")
        first = client.get("/api/v1/province", headers=auth(wide))
        again = client.get("/api/v1/province", headers=auth(wide))
        assert again.headers.get("x-cache") == "hit" and again.json() == first.json()
        assert len(first.json()["cities"]) == 3
        # Same URL, same role, another city scope: its own answer, never the province-wide one.
        mine = client.get("/api/v1/province", headers=auth(ternate))
        assert mine.headers.get("x-cache") is None
        assert [c["id"] for c in mine.json()["cities"]] == ["ternate"]
        assert client.get("/api/v1/province", headers=auth(ternate)).headers.get("x-cache") == "hit"
