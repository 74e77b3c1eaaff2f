"""Polite HTTP for the feeds: conditional requests, a timeout, a size limit and at most N requests a minute per host.

One `Fetcher` per feeds process. It remembers each URL's ETag and
Last-Modified and sends them back (If-None-Match / If-Modified-Since), so an
unchanged document costs a 304 and no parsing. A body past `max_bytes` is
cut off while it streams in, never held whole.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx


class FetchError(Exception):
    """The document could not be had: why, for the log and the feed's health."""


class RateLimit:
    """At most `per_minute` requests a minute per host: `wait(host)` sleeps (on `stop`) until one is allowed."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._n, self._clock = per_minute, clock
        self._sent: dict[str, deque[float]] = {}

    def delay(self, host: str) -> float:
        """Seconds until a request to `host` is allowed (0: now)."""
        q = self._sent.setdefault(host, deque())
        now = self._clock()
        while q and now - q[0] >= 60:
            q.popleft()
        return 0.0 if len(q) < self._n else 60 - (now - q[0])

    def take(self, host: str) -> None:
        self._sent.setdefault(host, deque()).append(self._clock())


class Fetcher:
    """GETs documents with memory of their validators."""

    def __init__(
        self, *, timeout_s: float, max_bytes: int, per_minute: int, stop: threading.Event | None = None
    ) -> None:
        self._client = httpx.Client(
            timeout=timeout_s, follow_redirects=True, headers={"User-Agent": "SatuPintu-feeds/1"}
        )
        self._max = max_bytes
        self._limit = RateLimit(per_minute)
        self._stop = stop or threading.Event()
        self._validators: dict[str, dict[str, str]] = {}

    def get(self, url: str, *, conditional: bool = True) -> bytes | None:
        """The document at `url`, or None when it has not changed since the last answer (304); FetchError else."""
        host = urlsplit(url).netloc
        while (wait := self._limit.delay(host)) > 0:
            if self._stop.wait(wait):
                raise FetchError("stopping")
        self._limit.take(host)
        headers = self._validators.get(url, {}) if conditional else {}
        try:
            with self._client.stream("GET", url, headers=headers) as resp:
                if resp.status_code == 304:
                    return None
                if resp.status_code != 200:
                    raise FetchError(f"HTTP {resp.status_code} from {url}")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self._max:
                    raise FetchError(f"{url} answers {declared} bytes, over the {self._max} byte limit")
                body = bytearray()
                for chunk in resp.iter_bytes():
                    body += chunk
                    if len(body) > self._max:
                        raise FetchError(f"{url} answers more than the {self._max} byte limit")
                kept = {}
                if etag := resp.headers.get("etag"):
                    kept["If-None-Match"] = etag
                if modified := resp.headers.get("last-modified"):
                    kept["If-Modified-Since"] = modified
                self._validators[url] = kept
                return bytes(body)
        except httpx.TimeoutException as exc:
            raise FetchError(f"{url} did not answer in time ({type(exc).__name__})") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"{url} cannot be reached: {str(exc)[:200] or type(exc).__name__}") from exc

    def forget(self, url: str) -> None:
        """Drop the validators of `url` (its last answer could not be used: ask for the whole document again)."""
        self._validators.pop(url, None)

    def close(self) -> None:
        self._client.close()
