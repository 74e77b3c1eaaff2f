"""Which routes answer a caller with no token: a short, reviewed list; every other route answers 401.

Walks every route of the OpenAPI document anonymously. A new route that forgets its role dependency shows up
here as an unexpected open route instead of serving data to anyone.
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.app.auth.test_city_scope import SAMPLE, _routes

# Open on purpose: the health check; the sign-in; the integrator kit's JSON Schemas (the published contract);
# Open311's discovery and service list (the public part of GeoReport v2) and its POST, which checks its own
# api_key and answers the spec's error list; /publik, off unless SATUPINTU_PUBLIC_PAGE (then open by design).
OPEN = {
    ("GET", "/api/health"),
    ("GET", "/api/v1/schemas/{name}.json"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/open311/v2/discovery.{fmt}"),
    ("GET", "/open311/v2/services.{fmt}"),
    ("GET", "/open311/v2/services/{code}.{fmt}"),
    ("POST", "/open311/v2/requests.{fmt}"),
    ("GET", "/publik"),
}
VALUES = {**SAMPLE, "fmt": "json", "name": "reading", "code": "pengaduan-air"}


def test_every_route_but_the_open_ones_refuses_a_caller_without_a_token(client: TestClient) -> None:
    answers = {
        (m, p): client.request(m, re.sub(r"\{(\w+)\}", lambda g: VALUES.get(g[1], "1"), p), json={}).status_code
        for m, p in _routes(client)
    }
    open_routes = {route for route, status in answers.items() if status != 401}
    assert open_routes <= OPEN, sorted((r, answers[r]) for r in open_routes - OPEN)
    # Open311's requests and tokens need an api_key unless SATUPINTU_OPEN311_PUBLIC_READ says otherwise
    assert answers[("GET", "/open311/v2/requests.{fmt}")] == 401
    assert answers[("GET", "/open311/v2/tokens/{token}.{fmt}")] == 401
