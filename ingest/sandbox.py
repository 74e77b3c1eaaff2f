"""Which received topics the ingestor stores, answers as a dry run, or ignores as its own.

The ingestor subscribes to `city/#`, so that a topic breaking the contract
(`city/morotai/sensors/x`, extra or missing levels) is quarantined as
`bad_topic` and answered on `city/{city}/rejected/_invalid` instead of
vanishing unheard. What we publish ourselves comes back on that
subscription and is left alone; the sandbox `city/{city}/test/{kind}/{id}` is
checked like the live topic and answered on `city/{city}/test-result/{id}`,
stored nowhere (DESIGN.md section 9).
"""

from __future__ import annotations

from typing import Literal

import orjson

from app.profile import ID_RE
from ingest.parser import ParseRules
from ingest.validate import check

SUBSCRIPTION = "city/#"
# Before the sandbox the ingestor subscribed per kind; a persistent session may still hold these, and
# overlapping subscriptions deliver a message twice (Mosquitto >= 2.1), so they are dropped on connect.
LEGACY_FILTERS = ("city/+/sensor/#", "city/+/service/#", "city/+/status/#")
# Topic kinds we publish (city/{city}/{kind}/...): never input.
OUTBOUND = frozenset({"rejected", "alarm", "changes", "catalogue", "test-result"})
TEST = "test"
INVALID = "_invalid"

Route = Literal["live", "test", "ours"]


def route(topic: str) -> Route:
    """`live` (stored or quarantined: every topic that is not ours), `test` (the sandbox) or `ours` (ignored)."""
    parts = topic.split("/", 3)
    if len(parts) >= 3 and parts[0] == "city":
        if parts[2] in OUTBOUND:
            return "ours"
        if parts[2] == TEST:
            return "test"
    return "live"


def answer(topic: str, payload: bytes, received_ms: int, rules: ParseRules) -> tuple[str, bytes]:
    """A sandbox message -> (its test-result topic, the dry run's JSON answer)."""
    parts = topic.split("/")
    city = parts[1] if len(parts) > 1 and ID_RE.match(parts[1]) else INVALID
    live = "/".join(parts[:2] + parts[3:])  # city/{city}/test/sensor/x -> city/{city}/sensor/x
    target = parts[4] if len(parts) == 5 and ID_RE.match(parts[4]) else INVALID
    result = check(live, payload, rules, received_ms=received_ms)
    result["test_topic"] = topic[:256]
    return f"city/{city}/test-result/{target}", orjson.dumps(result)
