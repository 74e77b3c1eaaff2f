"""`GET /api/v1/cities`: the deployment's cities with their Kemendagri codes, for any signed-in role."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.app.conftest import auth


def test_cities_lists_the_deployments_city_with_its_codes_zone_and_centre(
    client: TestClient, tokens: dict[str, str]
) -> None:
    r = client.get("/api/v1/cities", headers=auth(tokens["viewer"]))
    assert r.status_code == 200
    assert r.json() == {
        "items": [
            {
                "id": "morotai",
                "name": "Kabupaten Pulau Morotai",
                "kind": "kabupaten",
                "province": "Maluku Utara",
                "kemendagri": "82.07",
                "province_kemendagri": "82",
                "timezone": "Asia/Jayapura",
                "centre": {"lat": 2.31, "lon": 128.42},
                "districts": 6,
            }
        ]
    }
    assert client.get("/api/v1/cities").status_code == 401
