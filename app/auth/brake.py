"""A brake on password guessing: failed sign-ins slow down further attempts, exponentially, in memory.

Failures are counted under three keys, each with its own allowance of free
attempts:

- the username from one client (the common case: a forgotten password, a
  guesser at one account): `free` attempts;
- one client, whatever the username (a guesser trying many accounts):
  4 x `free`;
- one username, from every client (a guesser spread over many addresses):
  20 x `free`. A determined attacker can hold a user back with this one, but
  only for `max_s` at a time, and only by spending that many attempts.

Past its allowance a key is closed for `base_s`, doubling with every further
failure up to `max_s`; a success clears the username-from-client key, and a key
quiet for 4 x `max_s` is forgotten. While a key is closed nothing is checked
(no password hash is computed), so a flood costs the server next to nothing.
Each web process brakes on its own: with N workers a guesser gets up to N
times the attempts, still exponentially slowed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from app.settings import Settings

MAX_KEYS = 100_000  # past this, the quietest keys are forgotten first


@dataclass(slots=True)
class _Count:
    failures: int
    last: float


class LoginBrake:
    """Counts failed sign-ins and says how long a (username, client) must wait before the next try."""

    def __init__(
        self, *, free: int = 5, base_s: float = 1.0, max_s: float = 900.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.free, self.base_s, self.max_s, self._clock = free, base_s, max_s, clock
        self._counts: dict[tuple[str, str], _Count] = {}
        self._lock = threading.Lock()

    def _keys(self, username: str, client: str) -> tuple[tuple[tuple[str, str], int], ...]:
        return (
            (("u+c", f"{username}\x00{client}"), self.free),
            (("c", client), 4 * self.free),
            (("u", username), 20 * self.free),
        )

    def _closed_for(self, count: _Count | None, allowance: int, now: float) -> float:
        if count is None or count.failures < allowance:
            return 0.0
        if now - count.last > 4 * self.max_s:
            return 0.0
        hold = min(self.max_s, self.base_s * 2.0 ** min(count.failures - allowance, 60))
        return max(0.0, count.last + hold - now)

    def wait_s(self, username: str, client: str) -> float:
        """Seconds before a sign-in of `username` from `client` will be checked (0: now)."""
        now = self._clock()
        with self._lock:
            return max(
                self._closed_for(self._counts.get(key), allowance, now)
                for key, allowance in self._keys(username, client)
            )

    def failed(self, username: str, client: str) -> None:
        """Count a failed sign-in."""
        now = self._clock()
        with self._lock:
            if len(self._counts) >= MAX_KEYS:
                self._forget(now)
            for key, _ in self._keys(username, client):
                c = self._counts.get(key)
                if c is None or now - c.last > 4 * self.max_s:
                    self._counts[key] = _Count(1, now)
                else:
                    c.failures += 1
                    c.last = now

    def succeeded(self, username: str, client: str) -> None:
        """A right password: that client's count for that username starts again."""
        with self._lock:
            self._counts.pop(self._keys(username, client)[0][0], None)

    def _forget(self, now: float) -> None:
        stale = [k for k, c in self._counts.items() if now - c.last > 4 * self.max_s]
        for k in stale:
            del self._counts[k]
        if len(self._counts) >= MAX_KEYS:
            keep = sorted(self._counts.items(), key=lambda kv: kv[1].last)[len(self._counts) // 2 :]
            self._counts = dict(keep)


_making = threading.Lock()


def brake_of(state: object, settings: Settings) -> LoginBrake:
    """The one brake of a web process (kept on its app's `state`), made on first use from the settings: the
    API's sign-in route and the dashboard's form count failures together."""
    with _making:
        brake = getattr(state, "login_brake", None)
        if brake is None:
            brake = LoginBrake(
                free=settings.login_free_attempts, base_s=settings.login_lockout_s, max_s=settings.login_lockout_max_s
            )
            state.login_brake = brake  # type: ignore[attr-defined]
        return brake
