"""Open311 end to end: a POST through the web process's publisher, the real broker and the real ingestor.

POST requests -> token -> (MQTT, ingestor, database) -> GET tokens/{token} answers the service_request_id ->
GET requests/{id} shows it, in both formats, with no personal data; and an Open311 client nobody here wrote
(`georeport` from PyPI) reads the same server.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from georeport import GeoReport

from app.auth.tokens import create_token
from app.settings import Settings
from tests.app.live.test_live import WebServer
from tests.conftest import Broker, spawn_satupintu, wait_for_log
from tests.mqtt_helpers import Subscriber, wait_until

pytestmark = pytest.mark.slow
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.fixture
def stack(broker: Broker, db_url: str, tmp_path: Path) -> Iterator[tuple[WebServer, dict[str, str]]]:
    web = WebServer(Settings(database_url=db_url, mqtt_url=broker.url, open311_public_read=True))
    log = tmp_path / "ingest.log"
    ing = spawn_satupintu(
        ["ingest"],
        log,
        database_url=db_url,
        mqtt_url=broker.url,
        mqtt_client_id=f"t-o311-{uuid.uuid4().hex[:8]}",
        ingest_batch_max_age_ms="20",
    )
    try:
        wait_for_log(ing, log, "subscribed")
        with web.app.state.engine.begin() as conn:
            keys = {r: create_token(conn=conn, name=f"o311-{r}", role=r) for r in ("reporter", "admin")}
            # The admin of the agency the test's request goes to: the only one its personal data is answered to.
            keys["pupr-admin"] = create_token(conn=conn, name="o311-pupr-admin", role="admin", agency="dinas-pupr")
        yield web, keys
    finally:
        ing.send_signal(signal.SIGTERM)
        ing.wait(20)
        web.stop()


def test_post_token_then_service_request_id_through_broker_and_ingestor(
    stack: tuple[WebServer, dict[str, str]], broker: Broker
) -> None:
    web, keys = stack
    base = f"http://127.0.0.1:{web.port}/open311/v2"
    seen = Subscriber(broker.port, "city/morotai/service/#")
    form = {
        "api_key": keys["reporter"],
        "service_code": "perbaikan-jalan",
        "lat": "2.0386",
        "long": "128.2962",
        "address_string": "Jl. Pemuda, Daruba",
        "description": "Jembatan kayu <rusak> di dekat pasar",
        "attribute[stage]": "tindak lanjut",
        "first_name": "Siti",
        "last_name": "Rahayu",
        "email": "siti.rahayu@example.id",
        "phone": "+62 812 4455 6677",
        "media_url": "https://example.id/foto.jpg",
    }
    with httpx.Client(timeout=10) as http:
        r = http.post(f"{base}/requests.xml", content=httpx.QueryParams(form).__str__().encode(), headers=FORM)
        assert r.status_code == 201, r.text
        assert b"<service_requests><request><token>" in r.content
        r = http.post(f"{base}/requests.json", content=str(httpx.QueryParams(form)).encode(), headers=FORM)
        assert r.status_code == 201, r.text
        ((answer),) = r.json()
        token = answer["token"]
        assert "10 hari kerja" in answer["service_notice"]

        ids: list[str] = []

        def stored() -> bool:
            body = http.get(f"{base}/tokens/{token}.json").json()
            ids[:] = [b["service_request_id"] for b in body if "service_request_id" in b]
            return bool(ids)

        wait_until(stored, 20, "the ingestor stored the request")
        rid = ids[0]
        x = http.get(f"{base}/tokens/{token}.xml").text
        assert f"<service_request_id>{rid}</service_request_id><token>{token}</token>" in x
        (req,) = http.get(f"{base}/requests/{rid}.json").json()
        assert (req["service_request_id"], req["status"], req["service_code"]) == (rid, "open", "perbaikan-jalan")
        assert (req["address"], req["media_url"]) == ("Jl. Pemuda, Daruba", "https://example.id/foto.jpg")
        assert req["status_notes"] == "open; tahap tindak_lanjut"
        assert req["expected_datetime"].endswith("+09:00")
        xml = http.get(f"{base}/requests/{rid}.xml").text
        assert "Jembatan kayu &lt;rusak&gt; di dekat pasar" in xml
        everything = [xml, str(req), http.get(f"{base}/requests.json").text, http.get(f"{base}/requests.xml").text]
        for personal in ("Siti", "Rahayu", "siti.rahayu", "4455"):
            assert not any(personal in text for text in everything), personal
        # Nor on MQTT: the event the broker carried has none of it.
        wait_until(lambda: len(seen.messages) >= 2, 10, "both events seen on the broker")
        assert not any(b"Siti" in p or b"4455" in p or b"siti.rahayu" in p for _, p in list(seen.messages))
        # The agency's admin reads it, through the API (a city-wide admin is refused: tests/app/open311/test_routes.py).
        personal = http.get(
            f"http://127.0.0.1:{web.port}/api/v1/open311/requests/{rid}/personal",
            headers={"Authorization": f"Bearer {keys['pupr-admin']}"},
        ).json()
        assert (personal["first_name"], personal["phone"], personal["agency"]) == (
            "Siti",
            "+62 812 4455 6677",
            "dinas-pupr",
        )
        # The same ticket in the operators' list, district placed from lat/long, with its LAPOR! stage.
        ticket = http.get(
            f"http://127.0.0.1:{web.port}/api/v1/tickets/{rid}", headers={"Authorization": f"Bearer {keys['admin']}"}
        ).json()
        assert (ticket["district"], ticket["stage"], ticket["sla_working_days"]) == (
            "morotai-selatan",
            "tindak_lanjut",
            10,
        )
    seen.close()

    # An Open311 client nobody here wrote reads the same server, in both formats.
    for fmt in ("json", "xml"):
        client = GeoReport(base, output_format=fmt)
        services: Any = client.get_service_list()
        assert "perbaikan-jalan" in [s["service_code"] for s in services]
        definition: Any = client.get_service_definition("perbaikan-jalan")
        attrs = definition["attributes"] if fmt == "json" else definition["attributes"]["attribute"]
        assert [a["code"] for a in attrs] == ["district", "stage"]
        one: Any = client.get_service_request(rid)
        assert (one["service_request_id"], one["status"]) == (rid, "open")
        listed: Any = client.get_service_requests(service_code="perbaikan-jalan", status="open")
        listed = listed if isinstance(listed, list) else [listed]  # xmltodict: one element is not a list
        assert rid in [r["service_request_id"] for r in listed]


def test_the_broker_away_is_a_503_and_nothing_is_kept(stack: tuple[WebServer, dict[str, str]], broker: Broker) -> None:
    web, keys = stack
    broker.stop()
    body = f"api_key={keys['reporter']}&service_code=pengaduan-air&address_string=Desa%20Wayabula&phone=0812".encode()
    r = httpx.post(f"http://127.0.0.1:{web.port}/open311/v2/requests.json", content=body, headers=FORM, timeout=30)
    assert r.status_code == 503, r.text
    (err,) = r.json()
    assert err["code"] == 503 and "try again later" in err["description"]
