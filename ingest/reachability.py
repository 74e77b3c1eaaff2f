"""Whether the broker can be reached: said once when it cannot (and why), again every so often, and when it can."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Unreachable:
    """Says that the broker cannot be reached, and why: at the first failed attempt, then every `every_s` while
    the attempts keep failing (paho retries on its own, silently), and once more when it is reached."""

    def __init__(self, where: str, every_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._where, self._every_s, self._clock = where, every_s, clock
        self._since: float | None = None
        self._said: float | None = None
        self._attempts = 0

    def failed(self, why: str) -> None:
        """An attempt to connect failed for `why`."""
        now = self._clock()
        self._attempts += 1
        if self._since is None:
            self._since = now
            log.warning("cannot reach the broker at %s: %s; retrying", self._where, why)
            self._said = now
        elif self._said is not None and now - self._said >= self._every_s:  # set with _since
            log.warning(
                "still cannot reach the broker at %s after %.0f s (%d attempts): %s; retrying",
                self._where,
                now - self._since,
                self._attempts,
                why,
            )
            self._said = now

    def reached(self) -> None:
        """Connected: the next failure is a new outage."""
        if self._since is not None:
            log.info(
                "reached the broker at %s after %.0f s (%d failed attempts)",
                self._where,
                self._clock() - self._since,
                self._attempts,
            )
        self._since = self._said = None
        self._attempts = 0
