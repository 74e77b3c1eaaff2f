"""The API's common ground: health, auth (401/403), OpenAPI, metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.api.main import create_app
from app.auth.deps import AdminDep, OperatorDep, ViewerDep
from app.auth.tokens import Principal, create_token
from app.settings import Settings
from tests.app.conftest import auth


def test_health_needs_no_token_and_says_why_it_is_degraded(client: TestClient) -> None:
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is False and "unreachable" in body["broker"]["detail"]
    assert body["status"] == "degraded"


def test_openapi_and_metrics_are_served(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert "/api/health" in schema["paths"]
    client.get("/api/health")
    assert client.get("/metrics").status_code == 401  # Prometheus scrapes with a bearer token (README)
    text = client.get("/metrics", headers=auth(tokens["viewer"])).text
    assert "http_requests_total" in text
    assert 'satupintu_sources{city="morotai"} 31.0' in text  # the profile's sources, from the database


def _metric(text: str, name: str) -> float:
    line = next(ln for ln in text.splitlines() if ln.startswith(name + " "))
    return float(line.split()[-1])


def test_metrics_count_database_statements_and_how_the_cache_answered(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"api_cache_s": 5}))) as client:
        with client.app.state.engine.begin() as conn:
            token = create_token(conn=conn, name="wall", role="viewer")
        before = client.get("/metrics", headers=auth(token)).text
        for _ in range(3):
            assert client.get("/api/v1/overview", headers=auth(token)).status_code == 200
        after = client.get("/metrics", headers=auth(token)).text
    # The first overview was computed (statements sent), the next two came from the cache (none sent).
    assert (
        _metric(after, 'satupintu_api_cache_answers_total{how="computed"}')
        - _metric(before, 'satupintu_api_cache_answers_total{how="computed"}')
        == 1
    )
    assert (
        _metric(after, 'satupintu_api_cache_answers_total{how="hit"}')
        - _metric(before, 'satupintu_api_cache_answers_total{how="hit"}')
        == 2
    )
    sent = _metric(after, "satupintu_db_statements_total") - _metric(before, "satupintu_db_statements_total")
    assert sent >= 4  # the overview's reads, its token look-up, and the scrape's own totals


def _who(who: Principal) -> dict:
    return {"role": who.role}


def viewer_route(who: ViewerDep) -> dict:
    return _who(who)


def operator_route(who: OperatorDep) -> dict:
    return _who(who)


def admin_route(who: AdminDep) -> dict:
    return _who(who)


def test_tokens_are_checked_401_without_and_403_for_the_wrong_role(client: TestClient, tokens: dict[str, str]) -> None:
    for role, route in (("viewer", viewer_route), ("operator", operator_route), ("admin", admin_route)):
        client.app.get(f"/_t/{role}")(route)
    assert client.get("/_t/viewer").status_code == 401
    assert client.get("/_t/viewer").headers["www-authenticate"] == "Bearer"
    assert client.get("/_t/viewer", headers=auth("sp_not-a-token")).status_code == 401
    assert client.get("/_t/viewer", headers=auth(tokens["viewer"])).json() == {"role": "viewer"}
    assert client.get("/_t/operator", headers=auth(tokens["viewer"])).status_code == 403
    assert client.get("/_t/operator", headers=auth(tokens["operator"])).status_code == 200
    assert client.get("/_t/admin", headers=auth(tokens["operator"])).status_code == 403
    assert client.get("/_t/admin", headers=auth(tokens["admin"])).json() == {"role": "admin"}
    client.cookies.set("satupintu_token", tokens["viewer"])  # the dashboard's session cookie
    assert client.get("/_t/viewer").status_code == 200


def test_a_revoked_token_is_refused(client: TestClient, tokens: dict[str, str]) -> None:
    from sqlalchemy import select

    from app.auth.tokens import revoke_token
    from app.storage.models import TokenRow

    client.app.get("/_t/viewer")(viewer_route)
    engine = client.app.state.engine
    with engine.begin() as conn:
        tid = conn.execute(select(TokenRow.id).where(TokenRow.name == "test-viewer")).scalar()
        assert revoke_token(conn=conn, token_id=tid)
    assert client.get("/_t/viewer", headers=auth(tokens["viewer"])).status_code == 401
