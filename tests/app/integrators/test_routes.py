"""GET /api/v1/integrators/health: traffic, refusals and warnings per integrator and source, from the ingestor's writes."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.auth.tokens import create_token
from app.integrators.grants import grants_by_user
from app.profile import load_profile
from app.settings import Settings
from ingest.committer import WritePath, parse_and_write
from ingest.parser import ParseRules
from ingest.writer import BatchWriter
from tests.app.conftest import auth

ACL = """\
user satupintu-ingest
topic read city/#
user bpbd-awlr
topic write city/morotai/sensor/awlr-sungai-pilowo
topic write city/morotai/status/awlr-sungai-pilowo
topic read city/morotai/rejected/awlr-sungai-pilowo
topic write city/morotai/sensor/awlr-silent
topic write city/morotai/service/bpbd
user rsud-app
topic write city/morotai/service/rsud
topic write city/ternate/sensor/elsewhere
"""


def test_grants_by_user_reads_the_acl() -> None:
    assert grants_by_user(ACL) == {
        "bpbd-awlr": {
            ("morotai", "source", "awlr-sungai-pilowo"),
            ("morotai", "source", "awlr-silent"),
            ("morotai", "agency", "bpbd"),
        },
        "rsud-app": {("morotai", "agency", "rsud"), ("ternate", "source", "elsewhere")},
    }


@pytest.fixture
def city(db_url: str, tmp_path: Path):
    (tmp_path / "acl").write_text(ACL)
    s = Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=0, mqtt_auth_dir=str(tmp_path))
    with TestClient(create_app(s)) as c:
        profile = load_profile("morotai")
        w = WritePath(BatchWriter(c.app.state.engine, profile, s))
        rules = ParseRules.from_profile(profile, s)
        now = int(time.time() * 1000)
        raw = [
            (
                "city/morotai/sensor/awlr-sungai-pilowo",
                orjson.dumps({"values": {"water_level_cm": 100}}),
                now - 3 * 3_600_000,
            ),
            ("city/morotai/sensor/awlr-sungai-pilowo", orjson.dumps({"values": {"water_level_cm": 101}}), now - 60_000),
            ("city/morotai/sensor/awlr-sungai-pilowo", orjson.dumps({"values": {"waterlevel": 1}}), now - 50_000),
            (
                "city/morotai/sensor/awlr-sungai-pilowo",
                orjson.dumps({"values": {"water_level_cm": 99999}}),
                now - 40_000,
            ),
            ("city/morotai/service/rsud", b"{nope", now - 30_000),
        ]
        import threading

        for t, p, r in raw:  # one batch each: the received times differ by hours
            parse_and_write(w, rules, [(t, p, r)], threading.Event())
        w.close()
        with c.app.state.engine.begin() as conn:
            tokens = {
                n: create_token(conn=conn, name=n, role=r)
                for n, r in (
                    ("op", "operator"),
                    ("wall", "viewer"),
                    ("bpbd-awlr", "integrator"),
                    ("nobody", "integrator"),
                )
            }
        yield c, tokens


def test_health_per_source_and_integrator(city) -> None:
    c, tokens = city
    r = c.get("/api/v1/integrators/health", headers=auth(tokens["op"]))
    assert r.status_code == 200, r.text
    out = r.json()
    by = {t["id"]: t for t in out["targets"]}
    pilowo = by["awlr-sungai-pilowo"]
    assert pilowo["kind"] == "source" and pilowo["integrators"] == ["bpbd-awlr"]
    assert pilowo["messages_1h"] == 3 and pilowo["messages_24h"] == 4
    assert pilowo["warnings_24h"] == 1
    assert pilowo["refused_24h"] == {"out_of_range": 1}
    assert pilowo["last_refusal"]["reason"] == "out_of_range" and "99999" in pilowo["last_refusal"]["detail"]
    assert sum(pilowo["sparkline"]) == 4 and len(pilowo["sparkline"]) == 24 and pilowo["sparkline"][-1] >= 1
    assert pilowo["sparkline"][-4] + pilowo["sparkline"][-3] >= 1  # the one three hours ago
    silent = by["awlr-silent"]
    assert silent["messages_24h"] == 0 and silent["last_seen"] is None
    assert by["rsud"]["refused_24h"] == {"bad_json": 1}
    users = {u["name"]: u for u in out["integrators"]}
    assert users["bpbd-awlr"]["messages_1h"] == 3 and users["bpbd-awlr"]["refused_24h"] == 1
    assert set(users["bpbd-awlr"]["silent"]) == {"awlr-silent", "bpbd"}
    assert "elsewhere" not in by  # another city's grant


def test_an_integrator_sees_its_own_and_a_viewer_nothing(city) -> None:
    c, tokens = city
    own = c.get("/api/v1/integrators/health", headers=auth(tokens["bpbd-awlr"])).json()
    assert {t["id"] for t in own["targets"]} == {"awlr-sungai-pilowo", "awlr-silent", "bpbd"}
    assert [u["name"] for u in own["integrators"]] == ["bpbd-awlr"]
    assert c.get("/api/v1/integrators/health", headers=auth(tokens["nobody"])).json()["targets"] == []
    assert c.get("/api/v1/integrators/health", headers=auth(tokens["wall"])).status_code == 403
    assert c.get("/api/v1/integrators/health").status_code == 401
