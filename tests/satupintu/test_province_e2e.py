"""Issue 15's "Done when", end to end: two cities of a province profile through one broker, one ingestor and one
web process, on SQLite and PostgreSQL.

The simulator publishes both cities' demo traffic from the province profile; the one ingestor stores each city
by its own profile; the one web process lists both cities and answers each city's reads with `?city=`, never
mixing one city's sources into the other's.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import orjson
import pytest

from app.profile import load_deployment
from app.settings import Settings
from app.storage.engine import make_engine
from app.storage.migrate import upgrade
from ingest.simulator import run_simulator
from satupintu.cli_token import create_first_admin
from tests.conftest import Broker, spawn_satupintu, spawn_web, wait_for_log
from tests.mqtt_helpers import Db, Publisher, wait_until

pytestmark = pytest.mark.slow

PROVINCE = """\
province:
  id: maluku-utara
  name: Provinsi Maluku Utara
  kemendagri: "82"
  center: {lat: 1.45, lon: 127.75}
cities: [morotai, ternate]
"""


def test_two_cities_of_a_province_through_one_broker_one_ingestor_and_one_web_process(
    broker: Broker, db_url: str, tmp_path: Path
) -> None:
    province = tmp_path / "province.yaml"
    province.write_text(PROVINCE)
    deployment = load_deployment(str(province))
    assert deployment.ids == ("morotai", "ternate") and deployment.province is not None
    engine = make_engine(db_url)
    upgrade(engine)
    token = create_first_admin(engine)  # a province-wide token: reads every city
    engine.dispose()
    assert token
    common = {"database_url": db_url, "mqtt_url": broker.url, "profile": str(province)}
    ing = spawn_satupintu(
        ["ingest"], tmp_path / "ingest.log", mqtt_client_id="t-province", ingest_batch_max_age_ms="20", **common
    )
    try:
        web, base = spawn_web(tmp_path / "web.log", **common)
    except BaseException:
        ing.kill()
        ing.wait(15)
        raise
    pub = Publisher(broker.port)
    db = Db(db_url)
    auth = {"Authorization": f"Bearer {token}"}

    def get(path: str) -> httpx.Response:
        return httpx.get(base + path, headers=auth, timeout=10)

    try:
        wait_for_log(ing, tmp_path / "ingest.log", "subscribed")
        assert "ingesting for morotai, ternate" in (tmp_path / "ingest.log").read_text()
        # The demo traffic of both cities, from the province profile, through the one broker.
        stats = run_simulator(
            Settings(mqtt_url=broker.url, database_url=db_url), deployment, rate=400, count=300, seed=2
        )
        assert stats.undelivered == 0
        # And one known reading in each city, on a gauge of each.
        pub.publish("city/ternate/sensor/awlr-kali-toboko", orjson.dumps({"values": {"water_level_cm": 123.5}}))
        pub.publish("city/morotai/sensor/awlr-sungai-pilowo", orjson.dumps({"values": {"water_level_cm": 77.25}}))
        pub.wait_all(2)

        def cities_with_readings() -> set[str]:
            rows = db.all(
                "SELECT DISTINCT s.city FROM readings r JOIN series x ON x.id = r.series_id "
                "JOIN sources s ON s.id = x.source_pk"
            )
            return {c for (c,) in rows}

        wait_until(lambda: cities_with_readings() == {"morotai", "ternate"}, 60, "readings of both cities")
        # The web process: the deployment's cities ...
        r = get("/api/v1/cities")
        assert r.status_code == 200, r.text
        assert [(c["id"], c["kemendagri"]) for c in r.json()["items"]] == [("morotai", "82.07"), ("ternate", "82.71")]
        # ... and each city's sources, only its own.
        for p in deployment.cities:
            r = get(f"/api/v1/sources?city={p.city.id}&limit=500")
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            assert {s["city"] for s in items} == {p.city.id}
            assert {s.id for s in p.sources} <= {s["source_id"] for s in items}
        ternate = {s["source_id"] for s in get("/api/v1/sources?city=ternate&limit=500").json()["items"]}
        assert not ternate & {s.id for s in deployment.home.sources}  # no Morotai source among Ternate's

        def latest(city: str, source: str) -> list[float]:
            r = get(f"/api/v1/readings/latest?city={city}&source={source}&metric=water_level_cm")
            return [i["value"] for i in r.json()["items"]] if r.status_code == 200 else []

        wait_until(lambda: latest("ternate", "awlr-kali-toboko") == [123.5], 30, "Ternate's latest reading")
        wait_until(lambda: latest("morotai", "awlr-sungai-pilowo") == [77.25], 30, "Morotai's latest reading")
        # A source of one city is unknown in the other; a city the deployment does not serve is not found.
        assert get("/api/v1/readings/latest?city=morotai&source=awlr-kali-toboko").status_code == 404
        assert get("/api/v1/sources?city=halmahera-utara").status_code == 404
        ov = {c: get(f"/api/v1/overview?city={c}").json() for c in deployment.ids}
        assert {c: o["city"] for c, o in ov.items()} == {"morotai": "morotai", "ternate": "ternate"}
        assert ing.poll() is None and web.poll() is None
    finally:
        pub.close()
        db.close()
        for proc in (ing, web):
            proc.terminate()
        assert ing.wait(15) == 0
        web.wait(15)
