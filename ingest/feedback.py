"""Warnings: what the parser accepted but is probably a mistake, said in English and Bahasa Indonesia.

A warning never changes what is stored. The dry runs (HTTP, CLI, the MQTT
sandbox) list them beside the errors; on the live path an accepted message
that carries one is answered on its `rejected` topic with `"quarantined":
false` (ingest.consumer, rate-limited per source). Nearest names come from
difflib (`waterlevel` -> `water_level_cm`, `dinkes` -> `dinas-kesehatan`
through the agency's short name).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ingest.messages import Parsed, Reading, TicketEvent

if TYPE_CHECKING:
    from app.profile import Profile
    from app.settings import Settings

_NEAREST = 3  # at most this many suggestions
_CUTOFF = 0.6  # difflib's ratio below which a name is not suggested


@dataclass(frozen=True, slots=True)
class Warn:
    """One warning: a stable code, the detail in English and Indonesian, the JSON path, the nearest known names."""

    reason: str
    detail: str
    detail_id: str
    path: str | None = None
    nearest: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        d: dict[str, object] = {"reason": self.reason, "detail": self.detail, "detail_id": self.detail_id}
        if self.path is not None:
            d["path"] = self.path
        if self.nearest:
            d["nearest"] = list(self.nearest)
        return d


# Warning codes and what they mean (docs/mqtt.md lists them for integrators).
WARNINGS = {
    "unknown_metric": "a metric the catalogue does not know (registered as new); nearest known names given",
    "unit": "a unit that differs from the unit of the nearest catalogue metric",
    "unknown_agency": "an agency id the city profile does not know; nearest known ids given",
    "unknown_service": "a service id the city profile does not know; nearest known ids given",
    "service_agency": "the service belongs to another agency than the one in the topic",
    "unknown_district": "a district id the city profile does not know; nearest known ids given",
    "time_skew": "the time stamp is far from the time we received the message",
    "first_sight": "the first message of this source: it is registered as new (unregistered until an admin adds it)",
}


@dataclass(frozen=True, slots=True)
class Book:
    """What warnings compare a message with: the city profile's names, built once per process."""

    metrics: dict[str, str]  # metric id -> unit
    agencies: dict[str, str]  # agency id -> short name
    services: dict[str, str]  # service id -> agency id
    districts: frozenset[str]
    sources: frozenset[str]  # the profile's sources: the names a new source id is compared with
    skew_ms: int  # |ts - received| beyond this is worth a warning
    agency_names: dict[str, str] = field(init=False, repr=False)  # lower-cased id or short name -> id

    def __post_init__(self) -> None:
        names = {a.lower(): a for a in self.agencies} | {s.lower(): a for a, s in self.agencies.items()}
        object.__setattr__(self, "agency_names", names)

    @classmethod
    def from_profile(cls, profile: Profile, settings: Settings) -> Book:
        return cls(
            metrics={m.id: m.unit for m in profile.metrics},
            agencies={a.id: a.short for a in profile.agencies},
            services={s.id: s.agency for s in profile.services},
            districts=frozenset(d.id for d in profile.districts),
            sources=frozenset(s.id for s in profile.sources),
            skew_ms=int(settings.feedback_time_skew_s * 1000),
        )


def nearest(name: str, known: Iterable[str]) -> list[str]:
    """The known names closest to `name`, best first (difflib's ratio, at least 0.6)."""
    return difflib.get_close_matches(name, list(known), n=_NEAREST, cutoff=_CUTOFF)


def _or_none(names: Sequence[str]) -> str:
    return ", ".join(names) if names else "-"


def _skew(ts_ms: int, received_ms: int, book: Book, path: str) -> Warn | None:
    d = ts_ms - received_ms
    if abs(d) <= book.skew_ms:
        return None
    h = abs(d) / 3_600_000
    span, span_id = (f"{h / 24:.1f} days", f"{h / 24:.1f} hari") if h >= 48 else (f"{h:.1f} h", f"{h:.1f} jam")
    if d < 0:
        return Warn(
            "time_skew",
            f"{path} is {span} before we received it; is the device clock right?",
            f"{path} {span_id} sebelum pesan diterima; apakah jam perangkat benar?",
            f"$.{path}",
        )
    return Warn(
        "time_skew",
        f"{path} is {span} after we received it; is the device clock right?",
        f"{path} {span_id} setelah pesan diterima; apakah jam perangkat benar?",
        f"$.{path}",
    )


def _district(district: str | None, book: Book) -> Warn | None:
    if district is None or district in book.districts:
        return None
    near = nearest(district, book.districts)
    return Warn(
        "unknown_district",
        f"district {district!r} is not one of the city's; nearest: {_or_none(near)}",
        f"kecamatan {district!r} tidak dikenal; yang terdekat: {_or_none(near)}",
        "$.district",
        tuple(near),
    )


def _reading(r: Reading, received_ms: int, book: Book) -> list[Warn]:
    out: list[Warn] = []
    known = book.metrics
    for p in r.points:
        if p.metric not in known:
            near = nearest(p.metric, known)
            out.append(
                Warn(
                    "unknown_metric",
                    f"metric {p.metric!r} is not in the catalogue (stored as a new metric); nearest: {_or_none(near)}",
                    f"metrik {p.metric!r} tidak ada di katalog (disimpan sebagai metrik baru); yang terdekat: "
                    f"{_or_none(near)}",
                    f"$.values.{p.metric}",
                    tuple(near),
                )
            )
            if near and p.unit is not None and p.unit != known[near[0]]:
                out.append(
                    Warn(
                        "unit",
                        f"unit {p.unit!r} of {p.metric!r} differs from {known[near[0]]!r} of {near[0]!r}",
                        f"satuan {p.unit!r} untuk {p.metric!r} berbeda dari {known[near[0]]!r} milik {near[0]!r}",
                        f"$.values.{p.metric}",
                        (near[0],),
                    )
                )
    if r.points:  # one warning for the point furthest from the receive time
        worst = max(r.points, key=lambda p: abs(p.ts_ms - received_ms))
        out += filter(None, (_skew(worst.ts_ms, received_ms, book, "ts"),))
    out += filter(None, (_district(r.district, book),))
    return out


def _ticket(t: TicketEvent, received_ms: int, book: Book) -> list[Warn]:
    out: list[Warn] = []
    if t.agency not in book.agencies:
        near = book.agency_names.get(t.agency.lower())
        near_list = [near] if near else [book.agency_names[n] for n in nearest(t.agency, book.agency_names)]
        near_list = list(dict.fromkeys(near_list))
        out.append(
            Warn(
                "unknown_agency",
                f"agency {t.agency!r} (the topic's) is not in the city profile: the ticket counts as unregistered; "
                f"nearest: {_or_none(near_list)}",
                f"OPD {t.agency!r} (dari topik) tidak ada di profil kota: tiket dihitung tidak terdaftar; yang "
                f"terdekat: {_or_none(near_list)}",
                None,
                tuple(near_list),
            )
        )
    if t.service is not None:
        owner = book.services.get(t.service)
        if owner is None:
            near_services = nearest(t.service, book.services)
            out.append(
                Warn(
                    "unknown_service",
                    f"service {t.service!r} is not in the city profile (no SLA from the profile); nearest: "
                    f"{_or_none(near_services)}",
                    f"layanan {t.service!r} tidak ada di profil kota (tanpa SLA dari profil); yang terdekat: "
                    f"{_or_none(near_services)}",
                    "$.service",
                    tuple(near_services),
                )
            )
        elif owner != t.agency:
            out.append(
                Warn(
                    "service_agency",
                    f"service {t.service!r} belongs to agency {owner!r}, not {t.agency!r} (the topic's)",
                    f"layanan {t.service!r} milik OPD {owner!r}, bukan {t.agency!r} (dari topik)",
                    "$.service",
                    (owner,),
                )
            )
    w = _district(t.district, book)
    if w is not None:
        out.append(w)
    w = _skew(t.ts_ms, received_ms, book, "ts")
    if w is not None:
        out.append(w)
    return out


def warnings_of(parsed: Parsed, received_ms: int, book: Book) -> list[Warn]:
    """The warnings of one parsed message (none for a refusal or a status)."""
    tp = type(parsed)
    if tp is Reading:
        return _reading(parsed, received_ms, book)  # type: ignore[arg-type]
    if tp is TicketEvent:
        return _ticket(parsed, received_ms, book)  # type: ignore[arg-type]
    return []


def first_sight(source_id: str, book: Book, known: Iterable[str] = ()) -> Warn:
    """A source seen for the first time; its nearest known ids in case the id is a typo."""
    near = nearest(source_id, set(book.sources).union(known) - {source_id})
    return Warn(
        "first_sight",
        f"source {source_id!r} is new here: it is registered on first sight and shows as unregistered until an "
        f"admin adds it; nearest known: {_or_none(near)}",
        f"sumber {source_id!r} baru pertama terlihat: didaftarkan otomatis dan tampil belum terdaftar sampai admin "
        f"menambahkannya; yang terdekat: {_or_none(near)}",
        None,
        tuple(near),
    )


@dataclass(frozen=True, slots=True)
class Advice:
    """The warnings of a source's (or agency's) accepted live messages in one batch: answered on its rejected
    topic with `"quarantined": false`. `warnings` are the first such message's; `count` how many carried one."""

    city: str
    target: str  # source or agency id
    topic: str
    received_ms: int
    warnings: tuple[Warn, ...]
    count: int = 1


def _suspect(p: Reading | TicketEvent, received_ms: int, book: Book) -> bool:
    """Whether `warnings_of` would find anything: the same checks, without building a word of text.

    The live path runs this for every message; the texts are built once per source and batch.
    """
    skew = book.skew_ms
    if type(p) is Reading:
        known = book.metrics
        for pt in p.points:
            if pt.metric not in known or abs(pt.ts_ms - received_ms) > skew:
                return True
    else:
        if p.agency not in book.agencies or abs(p.ts_ms - received_ms) > skew:  # type: ignore[union-attr]
            return True
        svc = p.service  # type: ignore[union-attr]
        if svc is not None and book.services.get(svc) != p.agency:  # type: ignore[union-attr]
            return True
    return p.district is not None and p.district not in book.districts


class Received(Protocol):
    """What `advise` reads of a writer's Item (ingest.writer sits above this module)."""

    @property
    def topic(self) -> str: ...
    @property
    def received_ms(self) -> int: ...
    @property
    def parsed(self) -> Parsed: ...


def book_of(rules: object, city: str | None) -> Book | None:
    """The names `city`'s messages are compared with: its own profile's in a deployment of several cities."""
    by_city = getattr(rules, "by_city", None)
    if by_city is not None and city is not None:
        rules = by_city.get(city, rules)
    return getattr(rules, "book", None)


def advise(items: Sequence[Received], result: object, rules: object) -> list[Advice]:
    """The live path's warnings of a committed batch: per source or agency, and a source's first sight.

    `items` are the writer's Items (topic, received_ms, parsed); `result` its
    WriteResult (for `sources_new`); `rules` the ParseRules (for the book).
    """
    home: Book | None = getattr(rules, "book", None)
    if home is None:
        return []
    several = getattr(rules, "by_city", None) is not None
    new = {(c, s) for c, s in getattr(result, "sources_new", ())}
    found: dict[tuple[str, str], Advice] = {}
    counts: dict[tuple[str, str], int] = {}
    for it in items:
        p = it.parsed
        if type(p) is Reading:  # `type(p) is` (not a saved `tp`): mypy narrows `p` by it
            target = p.source_id
        elif type(p) is TicketEvent:
            target = p.agency
        else:
            continue
        key = (p.city, target)
        book = book_of(rules, p.city) if several else home
        if book is None:
            continue
        fresh = type(p) is Reading and key in new and target not in book.sources
        if not fresh and not _suspect(p, it.received_ms, book):
            continue
        if key in counts:
            counts[key] += 1
            continue
        warns = warnings_of(p, it.received_ms, book)
        if fresh:
            new.discard(key)
            warns.append(first_sight(target, book))
        if warns:
            counts[key] = 1
            found[key] = Advice(p.city, target, it.topic, it.received_ms, tuple(warns))
    return [Advice(a.city, a.target, a.topic, a.received_ms, a.warnings, counts[k]) for k, a in found.items()]
