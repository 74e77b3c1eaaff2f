"""The deployment's parse rules: the metric catalogue, the cities served and the ingest limits."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from ingest.feedback import Book

if TYPE_CHECKING:
    from app.profile import Deployment, Profile
    from app.settings import Settings


@dataclass(frozen=True, slots=True)
class MetricRule:
    """What the catalogue says about one metric: its unit and its plausible range."""

    unit: str
    lo: float
    hi: float


@dataclass(frozen=True, slots=True)
class ParseRules:
    """Everything `parse()` needs to know about the deployment, built once."""

    cities: frozenset[str]
    metrics: Mapping[str, MetricRule]  # catalogue: metric id -> rule
    unknown_metric: str = "accept"  # "accept" | "quarantine"
    max_payload_bytes: int = 65536
    max_future_ms: int = 300_000
    max_age_ms: int = 30 * 86_400_000
    # The profile's names for warnings (ingest.feedback); not used by parse() itself.
    book: Book | None = field(default=None, repr=False, compare=False)
    # A deployment of several cities (issue 15): each city's own rules (its catalogue, its names), which
    # parse() takes once the topic's city is known; None for one city (these rules are that city's).
    by_city: Mapping[str, ParseRules] | None = field(default=None, repr=False, compare=False)
    # Derived once in __post_init__: a snapshot of the catalogue's lookup (so a caller mutating the
    # mapping later cannot skew a running parser), and whether an unknown metric is accepted.
    metric_rule: Callable[[str], MetricRule | None] = field(init=False, repr=False, compare=False)
    accept_unknown: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.unknown_metric not in ("accept", "quarantine"):
            raise ValueError(f"unknown_metric must be 'accept' or 'quarantine', not {self.unknown_metric!r}")
        object.__setattr__(self, "metric_rule", dict(self.metrics).get)
        object.__setattr__(self, "accept_unknown", self.unknown_metric == "accept")

    @classmethod
    def from_profile(cls, profile: Profile, settings: Settings) -> ParseRules:
        """The rules of one deployment: its city, its metric catalogue and the ingest settings."""
        metrics = {m.id: MetricRule(m.unit, float(m.valid[0]), float(m.valid[1])) for m in profile.metrics}
        return cls(
            cities=frozenset((profile.city.id,)),
            metrics=MappingProxyType(metrics),
            unknown_metric=settings.ingest_unknown_metric,
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future_ms=settings.ingest_max_future_s * 1000,
            max_age_ms=settings.retention_raw_days * 86_400_000,
            book=Book.from_profile(profile, settings),
        )

    @classmethod
    def from_deployment(cls, deployment: Deployment, settings: Settings) -> ParseRules:
        """The rules of a deployment: every city it serves, each with its own metric catalogue and names.

        One city gives exactly `from_profile`'s rules; several give rules that
        accept all of them and hand each message to its city's own (`for_city`).
        """
        if not deployment.multi:
            return cls.from_profile(deployment.home, settings)
        by_city = {p.city.id: cls.from_profile(p, settings) for p in deployment.cities}
        home = by_city[deployment.home.city.id]
        return cls(
            cities=frozenset(by_city),
            metrics=home.metrics,  # what a caller asking the deployment without a city sees: the home city's
            unknown_metric=settings.ingest_unknown_metric,
            max_payload_bytes=settings.ingest_max_payload_bytes,
            max_future_ms=settings.ingest_max_future_s * 1000,
            max_age_ms=settings.retention_raw_days * 86_400_000,
            book=home.book,
            by_city=MappingProxyType(by_city),
        )

    def for_city(self, city: str | None) -> ParseRules:
        """The rules of `city` in this deployment (these rules when it has one city or does not serve `city`)."""
        if self.by_city is None or city is None:
            return self
        return self.by_city.get(city, self)
