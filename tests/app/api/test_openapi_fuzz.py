"""Property-based run of schemathesis against the app's own OpenAPI schema, on both databases.

Every generated request (valid and invalid parameters) must get no 5xx and a
response that matches the schema the app publishes at /openapi.json.
"""

from __future__ import annotations

import os
import time

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.openapi import from_asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from ingest.messages import Point, Reading, TicketEvent
from ingest.writer import BatchWriter, Item

pytestmark = pytest.mark.slow  # every operation of the API, generated requests, both databases
NOW = int(time.time() * 1000)
IN_CI = os.environ.get("CI") == "true"


@pytest.fixture
def api_schema(client: TestClient, writer: BatchWriter, tokens: dict[str, str]):
    # Some data, so that routes return rows and not only empty lists.
    writer.write(
        [
            Item(
                "t",
                b"{}",
                NOW,
                Reading("morotai", "awlr-sungai-pilowo", (Point("water_level_cm", NOW - 60_000, 150.0),)),
            ),
            Item(
                "t",
                b"{}",
                NOW,
                TicketEvent("morotai", "layanan-112", "112-1", "open", NOW - 60_000, service="ambulans"),
            ),
        ]
    )
    # The live channel streams until the client leaves: it has its own tests.
    return from_asgi("/openapi.json", client.app).exclude(path_regex=r"/live")


def test_no_5xx_and_responses_match_the_schema(api_schema, tokens: dict[str, str]) -> None:
    # Driven per operation here rather than with schemathesis' pytest plugin, which
    # does not work with pytest 9 yet (it reads a pytest-internal attribute).
    headers = {"Authorization": f"Bearer {tokens['admin']}"}
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 10, "the schema lists the API's routes"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            derandomize=IN_CI,  # CI repeats one fixed exploration; local runs draw new cases each time
        )
        def run(case) -> None:
            case.call_and_validate(headers=headers, checks=checks)

        try:
            run()
        except Exception as exc:
            raise AssertionError(f"{operation.method.upper()} {operation.path}: {exc}") from exc
