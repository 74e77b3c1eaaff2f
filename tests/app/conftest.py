"""API test fixtures: the real app on a fresh database of each kind, a token per role, a writer to seed data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.api.main import create_app
from app.auth.tokens import ROLES, create_token
from app.profile import load_profile
from app.settings import Settings
from ingest.committer import WritePath
from ingest.writer import BatchWriter


@pytest.fixture
def settings(db_url: str) -> Settings:
    # No response cache: these tests write through the ingestor's writer and read again at once, with no
    # change notice in between (tests/app/api/test_cache.py tests the cache itself).
    return Settings(database_url=db_url, mqtt_url="mqtt://127.0.0.1:1", api_cache_s=0)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def tokens(client: TestClient) -> dict[str, str]:
    """role -> a token of that role."""
    engine = client.app.state.engine
    with engine.begin() as conn:
        return {role: create_token(conn=conn, name=f"test-{role}", role=role) for role in ROLES}


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def writer(engine: Engine, settings: Settings) -> Iterator[WritePath]:
    """The ingestor's own batch writer with its post-commit alarm step, to put realistic data in the database."""
    w = WritePath(BatchWriter(engine, load_profile("morotai"), settings))
    yield w
    w.close()


# --- Smart Province (issue 15): one web process serving two cities --------------------------------------------


@pytest.fixture
def two_cities_settings(db_url: str) -> Settings:
    """A deployment of Morotai (home) and Ternate on the test's database; rules evaluated on every write."""
    return Settings(
        database_url=db_url,
        mqtt_url="mqtt://127.0.0.1:1",
        api_cache_s=0,
        profile="morotai,ternate",
        alarm_rules_refresh_s=0,
    )


@pytest.fixture
def two_cities(two_cities_settings: Settings) -> Iterator[TestClient]:
    """The real app of a two-city deployment (SATUPINTU_PROFILE=morotai,ternate)."""
    with TestClient(create_app(two_cities_settings)) as c:
        yield c


@pytest.fixture
def city_writers(engine: Engine, two_cities_settings: Settings) -> Iterator[dict[str, WritePath]]:
    """city id -> the ingestor's write path for that city (its profile's rules evaluated after each batch)."""
    paths = {
        city: WritePath(BatchWriter(engine, load_profile(city), two_cities_settings)) for city in ("morotai", "ternate")
    }
    yield paths
    for w in paths.values():
        w.close()
