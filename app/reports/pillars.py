"""The six smart-city pillars scored 0-100 from the profile's mapping of services and metrics to pillars.

A pillar's score is the mean of what it has data for:
- services: the SLA % of the pillar's services over the period (resolved on
  time / resolved with a due time, pooled over its services);
- sensing: the share of sources reporting the pillar's metrics that are
  online and carry no open alarm on one of those metrics.
A pillar with neither (branding, in Morotai's profile) has no score: None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.profile import PILLARS, Profile


@dataclass(frozen=True, slots=True)
class PillarScore:
    pillar: str
    score: float | None
    services_pct: float | None
    sensing_pct: float | None


def pillar_scores(
    profile: Profile,
    *,
    service_items: Sequence[Mapping[str, Any]],
    latest: Sequence[Mapping[str, Any]],
    sources: Sequence[Mapping[str, Any]],
    alarms: Sequence[Mapping[str, Any]],
) -> dict[str, PillarScore]:
    """Every pillar's score (see the module docstring)."""
    on_time: dict[str, int] = dict.fromkeys(PILLARS, 0)
    with_due: dict[str, int] = dict.fromkeys(PILLARS, 0)
    for it in service_items:
        svc = profile.service(it.get("service") or "")
        if svc is None:
            continue
        with_due[svc.pillar] += int(it.get("resolved_with_due") or 0)
        on_time[svc.pillar] += int(it.get("resolved_within_sla") or 0)

    metric_pillar: dict[str, str] = {m.id: m.pillar for m in profile.metrics}
    status = {s["source_id"]: s.get("status") for s in sources}
    alarmed = {(a.get("source_id"), a.get("metric")) for a in alarms if a.get("state") in ("active", "acknowledged")}
    reporting: dict[str, set[str]] = {p: set() for p in PILLARS}
    troubled: dict[str, set[str]] = {p: set() for p in PILLARS}
    for r in latest:
        pillar = metric_pillar.get(r.get("metric") or "")
        sid = r.get("source_id")
        if pillar is None or sid is None:
            continue
        reporting[pillar].add(sid)
        if status.get(sid) != "online" or (sid, r.get("metric")) in alarmed:
            troubled[pillar].add(sid)

    out: dict[str, PillarScore] = {}
    for p in PILLARS:
        svc_pct = 100.0 * on_time[p] / with_due[p] if with_due[p] else None
        n = len(reporting[p])
        sense_pct = 100.0 * (n - len(troubled[p])) / n if n else None
        parts = [x for x in (svc_pct, sense_pct) if x is not None]
        out[p] = PillarScore(p, sum(parts) / len(parts) if parts else None, svc_pct, sense_pct)
    return out
