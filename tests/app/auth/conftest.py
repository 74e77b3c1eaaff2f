"""Sign-in test helpers: cheap password hashes (the cost is recorded in each hash, so checks stay real) and users."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.auth import passwords
from app.auth.users import create_user, new_password_hash

CHEAP = passwords.Cost(n=2**4, r=8, p=1)


@pytest.fixture(autouse=True)
def cheap_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_COST", CHEAP)


@pytest.fixture
def add_user(client: TestClient) -> Callable[..., None]:
    """Create a user straight in the app's database."""

    def add(username: str, role: str, password: str = "kata-sandi-rahasia") -> None:
        with client.app.state.engine.begin() as conn:
            create_user(conn=conn, username=username, role=role, password_hash=new_password_hash(password))

    return add
