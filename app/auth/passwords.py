"""Password hashes: scrypt from the standard library, with a random salt and the cost stored in each hash.

A stored hash reads `scrypt$<n>$<r>$<p>$<salt>$<key>` (salt and key in
unpadded URL-safe base64), so the cost can be raised later without breaking
the hashes already stored: `needs_rehash` says when a hash is older than the
current cost, and a sign-in rehashes it while it holds the password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from functools import cache

MIN_LENGTH = 8
# scrypt's input is hashed first, so long passwords cost no more; the bound keeps request bodies sane.
MAX_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class Cost:
    """scrypt's work factors: n (CPU and memory, a power of two), r (block size), p (parallelism)."""

    n: int
    r: int
    p: int

    @property
    def maxmem(self) -> int:
        return 128 * self.n * self.r + 2**20  # what OpenSSL needs (p runs one after the other), plus slack


# OWASP's password storage cheat sheet lists n=2**15, r=8, p=3 as one of its equivalent minimums: 32 MiB a
# hash, about half a second of one core here. Read at call time, so tests can lower it.
DEFAULT_COST = Cost(n=2**15, r=8, p=3)
# Each hash holds 128*n*r bytes: at most this many at once, so a burst of sign-ins cannot exhaust memory.
_PARALLEL = threading.BoundedSemaphore(4)
SALT_BYTES = 16
KEY_BYTES = 32


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(
        text + "=" * (-len(text) % 4), altchars=b"-_", validate=True
    )  # binascii.Error is a ValueError


def password_problem(password: str) -> str | None:
    """Why `password` is not acceptable as a new password, or None."""
    if len(password) < MIN_LENGTH:
        return f"a password needs at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"a password has at most {MAX_LENGTH} characters"
    if not password.strip():
        return "a password cannot be only spaces"
    return None


def _derive(password: str, salt: bytes, cost: Cost) -> bytes:
    with _PARALLEL:
        return hashlib.scrypt(
            password.encode(), salt=salt, n=cost.n, r=cost.r, p=cost.p, maxmem=cost.maxmem, dklen=KEY_BYTES
        )


def hash_password(password: str, cost: Cost | None = None) -> str:
    """The hash to store for `password`, with a fresh salt (at the current cost unless told)."""
    cost = cost or DEFAULT_COST
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(_derive(password, salt, cost))}"


def _parse(stored: str) -> tuple[Cost, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        cost = Cost(int(parts[1]), int(parts[2]), int(parts[3]))
        salt, key = _unb64(parts[4]), _unb64(parts[5])
    except ValueError:
        return None
    if not salt or len(key) != KEY_BYTES:
        return None
    # A corrupt or hostile row must not make a sign-in allocate gigabytes.
    if cost.n < 2 or cost.n & (cost.n - 1) or cost.n > 2**20 or not 1 <= cost.r <= 32 or not 1 <= cost.p <= 16:
        return None
    return cost, salt, key


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches the stored hash (a malformed hash matches nothing)."""
    parsed = _parse(stored)
    if parsed is None or len(password) > MAX_LENGTH:
        return False
    cost, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, cost), key)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with a cost other than the current one."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != DEFAULT_COST


@cache
def _dummy(cost: Cost) -> str:
    return hash_password(secrets.token_urlsafe(16), cost)


def burn_time(password: str) -> None:
    """Spend what a verification costs, for a user that does not exist (so that answer takes as long as a wrong password)."""
    verify_password(password, _dummy(DEFAULT_COST))
