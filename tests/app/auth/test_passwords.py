"""Password hashes: scrypt with a salt per hash and the cost inside it; checks refuse everything else."""

from __future__ import annotations

import pytest

from app.auth import passwords
from app.auth.passwords import Cost, hash_password, needs_rehash, password_problem, verify_password

CHEAP = Cost(n=2**4, r=8, p=1)
SALT, KEY = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"  # 16 and 32 bytes


def test_the_default_cost_meets_owasp_and_is_what_a_hash_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.undo()  # the folder's cheap-hash fixture
    assert Cost(n=2**15, r=8, p=3) == passwords.DEFAULT_COST
    stored = hash_password("kata sandi panjang")
    assert stored.startswith("scrypt$32768$8$3$")
    assert verify_password("kata sandi panjang", stored) and not verify_password("kata sandi panjanG", stored)
    assert not needs_rehash(stored)


def test_each_hash_has_its_own_salt_and_no_password_in_it() -> None:
    a, b = hash_password("correct horse", CHEAP), hash_password("correct horse", CHEAP)
    assert a != b and "correct" not in a
    assert verify_password("correct horse", a) and verify_password("correct horse", b)
    assert not verify_password("correct horse ", a) and not verify_password("", a)


def test_a_hash_made_at_another_cost_still_verifies_and_asks_to_be_redone() -> None:
    old = hash_password("correct horse", Cost(n=2**5, r=4, p=1))
    assert verify_password("correct horse", old)
    assert needs_rehash(old)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text-password",
        "bcrypt$12$abc",
        f"scrypt$16$8$1${SALT}",  # a part missing
        f"scrypt$16$8$1${SALT}$a2V5",  # a key of the wrong length
        f"scrypt$15$8$1${SALT}${KEY}",  # n not a power of two
        f"scrypt$4194304$8$1${SALT}${KEY}",  # n would need 4 GiB: refused before any work
        f"scrypt$16$64$1${SALT}${KEY}",
        f"scrypt$x$8$1${SALT}${KEY}",
        f"scrypt$16$8$1$!!!${KEY}",
    ],
)
def test_a_malformed_or_hostile_hash_matches_nothing(stored: str) -> None:
    assert verify_password("anything", stored) is False
    assert needs_rehash(stored)


def test_new_passwords_are_checked_for_length() -> None:
    assert password_problem("1234567") and password_problem(" " * 12) and password_problem("x" * 1025)
    assert password_problem("12345678") is None and password_problem("x" * 1024) is None
    assert not verify_password("x" * 1025, hash_password("x" * 1024, CHEAP))
