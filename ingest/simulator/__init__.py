"""The demo publisher and the benchmark's load: a city profile's sensors and services as MQTT traffic.

Two parts with a seam between them:

* `CityModel` is pure (no network, no clock of its own): `next_message(now_s)`
  returns the next `(topic, payload, retain, is_bad)` of the city at that time.
  Every source keeps its own state; sources take turns in proportion to
  1/interval (so at any total rate their relative frequencies stay those of
  the profile); timed events (ticket steps, sources going offline and back)
  take their turn when due; a `bad_share` of messages is deliberately bad.
* `run_simulator` paces a CityModel onto the broker with QoS 1 (token bucket,
  bounded outstanding publishes, drained before disconnecting).

Two clocks:

* Diurnal behaviour follows the real local clock of the profile's time zone:
  street lights burn 18:00-06:00, temperature peaks early afternoon, PM and
  traffic at rush hours, bins fill by day and are emptied morning and
  afternoon, batteries charge by sun, tides follow the real M2/K1 periods.
* Episodes run on a clock compressed by `TIME_SCALE` (60: one real minute is
  one simulated hour, a simulated day passes in 24 real minutes): storms and
  the floods that follow them, burning-season smoke, PDAM pipe bursts, lamp
  failures, bed occupancy drift, sources going offline, and service tickets
  from `open` to `closed`. Ticket SLAs are compressed by the same factor and
  sent with each ticket (`sla_minutes`, Open311 `expected_datetime`), so
  "overdue" means in the demo what it means at full scale: an ambulance
  ticket (SLA 60 min) is sent with `sla_minutes: 1` and usually resolves in
  about half a minute; about one ticket in six runs past its SLA.

Every time stamp is the real time of sending (ms resolution, strictly
increasing per source, so (source, metric, ts) never repeats).

Modules: `model` (CityModel), `cities` (CitiesModel: a deployment's cities as one
stream), `physics` (sources and their metrics),
`tickets` (service desks), `bad` (deliberately bad messages), `publisher`
(run_simulator, SimStats), `clock` (TIME_SCALE and time units). The names
exported here are the public API (bench/api.py builds its backfilled city
from the same sources and ticket draws, and its values on the same daily
cycle, tide period and clamp); the rest is private.
"""

from .cities import CitiesModel
from .clock import TIME_SCALE
from .model import CityModel, SyntheticSource, synthetic_sources
from .physics import M2_PERIOD_S, TAU, clamp, diurnal
from .publisher import Publisher, SimStats, run_simulator
from .tickets import district_weights, draw_place, draw_priority, draw_title, is_emergency, service_weights

__all__ = [
    "M2_PERIOD_S",
    "TAU",
    "TIME_SCALE",
    "CitiesModel",
    "CityModel",
    "Publisher",
    "SimStats",
    "SyntheticSource",
    "clamp",
    "district_weights",
    "diurnal",
    "draw_place",
    "draw_priority",
    "draw_title",
    "is_emergency",
    "run_simulator",
    "service_weights",
    "synthetic_sources",
]
