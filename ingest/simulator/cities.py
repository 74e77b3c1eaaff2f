"""A deployment of several cities as one stream: each city's own CityModel, taking turns by its own traffic.

Every city keeps its profile's sources, service desks, time zone and episodes
(a storm over Ternate is not one over Morotai). A city's share of the stream
is its natural message rate (the sum of its sources' 1/interval), so at any
total rate each city's sources keep the relative frequencies its profile
gives them; the turns are stride-scheduled, hence repeatable for a seed.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

from app.profile import Profile

from .clock import TIME_SCALE
from .model import CityModel, Message
from .physics import Source


class CitiesModel:
    """The cities of a deployment as one stream of MQTT messages, with CityModel's interface."""

    def __init__(
        self,
        profiles: Sequence[Profile],
        *,
        seed: int | None = None,
        extra_sources: int = 0,
        bad_share: float = 0.0,
        time_scale: float = TIME_SCALE,
        unknown_metric: str = "accept",
    ) -> None:
        """`extra_sources` synthetic sources are added to each city's own; city i draws from seed + i."""
        if not profiles:
            raise ValueError("no city to simulate")
        self.models = [
            CityModel(
                p,
                seed=None if seed is None else seed + i,
                extra_sources=extra_sources,
                bad_share=bad_share,
                time_scale=time_scale,
                unknown_metric=unknown_metric,
            )
            for i, p in enumerate(profiles)
        ]
        # A city's stride is the inverse of its natural rate: the busier city takes more turns.
        self._stride = [1.0 / sum(1.0 / s.interval for s in m.sources) for m in self.models]
        self._turns = [(self._stride[i], i) for i in range(len(self.models))]
        heapq.heapify(self._turns)

    @property
    def sources(self) -> list[Source]:
        return [s for m in self.models for s in m.sources]

    @property
    def counts(self) -> dict[str, int]:
        """Messages sent by kind, all cities together."""
        out: dict[str, int] = {}
        for m in self.models:
            for k, v in m.counts.items():
                out[k] = out.get(k, 0) + v
        return out

    def initial_statuses(self) -> list[Message]:
        """Every city's `online` (retained) for each of its sources."""
        return [msg for m in self.models for msg in m.initial_statuses()]

    def next_message(self, now_s: float) -> Message:
        """The next message of the city whose turn it is, at real time `now_s` (epoch seconds)."""
        vt, i = self._turns[0]
        heapq.heapreplace(self._turns, (vt + self._stride[i], i))
        return self.models[i].next_message(now_s)
