"""ingest.simulator: the city model's messages honour the contract (checked by the real parser),
its bad messages are refused, tickets live forward, storms flood, and a broker round trip delivers all."""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from itertools import pairwise

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt import publish
from paho.mqtt.enums import CallbackAPIVersion

from app.profile import load_deployment, load_profile
from app.settings import Settings
from app.tickets.lifecycle import RANK
from ingest.messages import Reading, Rejected, SourceStatus, TicketEvent
from ingest.parser import ParseRules, parse
from ingest.simulator import M2_PERIOD_S, TIME_SCALE, CitiesModel, CityModel, clamp, diurnal, run_simulator
from ingest.simulator.bad import BAD_KINDS
from ingest.simulator.tickets import sla_as_minutes
from tests.mqtt_helpers import wait_until

PROFILE = load_profile("morotai")
RULES = ParseRules.from_profile(PROFILE, Settings(database_url="sqlite:///:memory:"))
STRICT = ParseRules.from_profile(
    PROFILE, Settings(database_url="sqlite:///:memory:", ingest_unknown_metric="quarantine")
)
TOPIC = re.compile(r"city/morotai/(sensor|service|status)/[a-z0-9_-]{1,64}")
WIT = timezone(timedelta(hours=9))
T0 = time.time()  # the fake clocks start at the real now: readings must fall inside the parser's window


def run(model: CityModel, n: int, step: float, start: float = T0) -> list[tuple[float, str, bytes, bool, bool]]:
    out = []
    t = start
    for _ in range(n):
        topic, payload, retain, bad = model.next_message(t)
        out.append((t, topic, payload, retain, bad))
        t += step
    return out


def parsed(msgs, rules=RULES):
    return [
        (t, topic, payload, retain, bad, parse(topic, payload, int(t * 1000), rules))
        for t, topic, payload, retain, bad in msgs
    ]


def point_keys(results) -> list[tuple[str, str, int]]:
    return [(p.source_id, pt.metric, pt.ts_ms) for *_, p in results if type(p) is Reading for pt in p.points]


def test_ten_thousand_good_messages_are_all_valid_and_unique() -> None:
    model = CityModel(PROFILE, seed=1, bad_share=0)
    results = parsed(run(model, 10_000, 0.05))
    for t, topic, payload, retain, bad, p in results:
        assert not bad
        assert TOPIC.fullmatch(topic), topic
        assert type(p) is not Rejected, (topic, payload[:200], p)
        if type(p) is Reading:
            assert not p.refused, (payload, p.refused)
            assert p.points
            # reading time stamps are the real time of sending (ms), never ahead of it by more than a little
            # (a buoy's pack also carries the tide half-way since its previous pack)
            assert all(-3_600_000 < pt.ts_ms - t * 1000 < 1000 for pt in p.points), payload
        elif type(p) is SourceStatus:
            assert retain and payload in (b"online", b"offline")
        else:
            assert type(p) is TicketEvent and not retain
    keys = point_keys(results)
    assert len(keys) == len(set(keys)) > 10_000
    kinds = Counter(type(p).__name__ for *_, p in results)
    assert kinds["Reading"] > 9_000 and kinds["TicketEvent"] > 10
    assert {"reading", "senml", "ticket", "open311"} <= set(model.counts)
    # named sources stamp ISO 8601 with the WIT offset; buoys send SenML packs
    assert any(b'+09:00"' in m[2] for m in results if "/sensor/awlr" in m[1])
    assert all(m[2].startswith(b'[{"bn":') for m in results if "/sensor/buoy" in m[1])


def test_the_stream_is_repeatable_with_a_seed() -> None:
    a = run(CityModel(PROFILE, seed=7, bad_share=0.1), 3000, 0.1)
    b = run(CityModel(PROFILE, seed=7, bad_share=0.1), 3000, 0.1)
    assert a == b


def test_synthetic_sources_are_spread_over_districts_and_register_on_first_sight() -> None:
    model = CityModel(PROFILE, seed=2, extra_sources=300)
    assert len(model.sources) == len(PROFILE.sources) + 300
    extra = [s for s in model.sources if s.id.startswith("sim-")]
    assert len({s.id for s in extra}) == 300
    assert {s.district for s in extra} == {d.id for d in PROFILE.districts}
    centers = {d.id: d.center for d in PROFILE.districts}
    for s in extra:
        assert re.fullmatch(r"sim-[a-z]+-\d{4}", s.id) and PROFILE.source(s.id) is None
        c = centers[s.district]
        assert abs(s.lat - c.lat) < 0.2 and abs(s.lon - c.lon) < 0.2
    results = parsed(run(model, 6000, 0.01))
    synthetic = [p for *_, p in results if type(p) is Reading and p.source_id.startswith("sim-")]
    assert len(synthetic) > 4000
    assert all(not p.refused for *_, p in results if type(p) is Reading)
    # an unknown source brings its district and position: a synthetic buoy's first message is a reading
    # object that says where it is, its later ones mostly SenML packs (which cannot)
    first: dict[str, Reading] = {}
    for p in synthetic:
        first.setdefault(p.source_id, p)
    assert all(p.district and p.lat is not None for p in first.values())
    assert all(p.district and p.lat is not None for p in synthetic if not p.source_id.startswith("sim-buoy"))
    assert any(p.district is None for p in synthetic if p.source_id.startswith("sim-buoy"))
    keys = point_keys(results)
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("rules", [RULES, STRICT], ids=["accept-unknown", "quarantine-unknown"])
def test_a_fifth_bad_is_refused_and_the_rest_stays_valid(rules: ParseRules) -> None:
    model = CityModel(PROFILE, seed=3, bad_share=0.2, unknown_metric=rules.unknown_metric)
    results = parsed(run(model, 10_000, 0.05), rules)
    bad = [r for r in results if r[4]]
    assert 0.17 < len(bad) / len(results) < 0.23
    reasons = Counter()
    for _t, topic, payload, retain, is_bad, p in results:
        if is_bad:
            assert not retain
            refused = type(p) is Rejected or (type(p) is Reading and p.refused)
            assert refused, (topic, payload[:300], p)
            reasons[p.reason if type(p) is Rejected else "partial"] += 1
        else:
            assert type(p) is not Rejected and not (type(p) is Reading and p.refused), (topic, payload[:300], p)
    expected = {
        "bad_json",
        "bad_encoding",
        "bad_shape",
        "bad_field",
        "bad_time",
        "out_of_range",
        "too_large",
        "bad_id",
        "unknown_city",
        "bad_topic",
        "partial",
    }
    if rules is STRICT:
        expected.add("unknown_metric")
    assert expected <= set(reasons), reasons
    assert {f"bad:{k}" for k, _ in BAD_KINDS} <= set(model.counts)
    # the good points riding in partly bad messages are unique too
    keys = point_keys(results)
    assert len(keys) == len(set(keys))


def test_tickets_move_forward_within_their_compressed_sla() -> None:
    model = CityModel(PROFILE, seed=4)
    results = parsed(run(model, 20_000, 0.5))  # ~2.8 real hours: about a week on the compressed clock
    events: dict[str, list[tuple[float, TicketEvent, dict]]] = defaultdict(list)
    for t, topic, payload, _retain, _bad, p in results:
        if "/service/" in topic:
            assert type(p) is TicketEvent, (payload, p)
            assert topic == f"city/morotai/service/{p.agency}"
            assert PROFILE.service(p.service).agency == p.agency
            assert -300_000 <= p.ts_ms - t * 1000 <= 300_000  # within 5 minutes of the (fake) real now
            events[p.ticket_id].append((t, p, orjson.loads(payload)))
    assert len(events) > 200
    ours = {
        "open": {"assigned", "in_progress", "cancelled"},
        "assigned": {"in_progress", "cancelled"},
        "in_progress": {"resolved"},
        "resolved": {"closed"},
    }
    open311 = {"open": {"open", "closed"}}
    done = overdue = cancelled = 0
    for tid, evs in events.items():
        assert re.fullmatch(r"[A-Z0-9]+-20\d\d-\d{6}", tid), tid
        statuses = [p.status for _, p, _ in evs]
        stamps = [p.ts_ms for _, p, _ in evs]
        assert statuses[0] == "open", (tid, statuses)
        assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
        assert [RANK[s] for s in statuses] == sorted(RANK[s] for s in statuses)
        is311 = "service_request_id" in evs[0][2]
        allowed = open311 if is311 else ours
        for a, b in pairwise(statuses):
            assert b in allowed.get(a, ()), (tid, statuses)
        sla = sla_as_minutes(PROFILE.service(evs[0][1].service))
        due = evs[0][1].due_ms if is311 else stamps[0] + evs[0][1].sla_minutes * 60_000
        assert due - stamps[0] == max(1, round(sla / TIME_SCALE)) * 60_000
        if statuses[-1] in ("resolved", "closed"):
            done += 1
            finished = next(p.ts_ms for _, p, _ in evs if p.status in ("resolved", "closed"))
            overdue += finished > due
        cancelled += statuses[-1] == "cancelled"
    assert done > 100 and cancelled > 0
    assert 0.03 < overdue / done < 0.4  # most within SLA, a share overdue
    assert any("service_request_id" in e[0][2] for e in events.values())
    assert any(e[0][1].priority == "critical" for e in events.values())
    assert all(e[0][1].title for e in events.values())


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_storms_push_water_levels_over_the_alarm_line_within_a_simulated_day(seed: int) -> None:
    model = CityModel(PROFILE, seed=seed)
    level = PROFILE.metric("water_level_cm")
    day = 86_400 / TIME_SCALE
    highest = defaultdict(float)
    for _t, topic, payload, _retain, _bad in run(model, int(day / 0.25), 0.25):
        if "/sensor/" in topic and payload.startswith(b"{"):
            for k, v in orjson.loads(payload)["values"].items():
                lo, hi = PROFILE.metric(k).valid
                assert lo <= v <= hi, (topic, k, v)
                highest[k] = max(highest[k], v)
    assert highest["water_level_cm"] > level.thresholds[0].above  # 180: major
    assert highest["rain_mm_h"] > 50


def _local(hour: int) -> float:
    today = datetime.fromtimestamp(T0, WIT).replace(hour=hour, minute=0, second=0, microsecond=0)
    t = today.timestamp()
    return t if t <= T0 else t - 86_400  # keep readings inside the parser's window (not in the future)


def _values_by_source(msgs) -> dict[str, list[dict]]:
    out = defaultdict(list)
    for _, topic, payload, *_ in msgs:
        if "/sensor/" in topic and payload.startswith(b"{"):
            out[topic.rsplit("/", 1)[1]].append(orjson.loads(payload)["values"])
    return out


def test_diurnal_behaviour_follows_the_local_clock() -> None:
    noon = _values_by_source(run(CityModel(PROFILE, seed=5), 4000, 0.05, _local(12)))
    night = _values_by_source(run(CityModel(PROFILE, seed=5), 4000, 0.05, _local(22)))
    lights = [s.id for s in PROFILE.sources if s.kind == "streetlight"]
    for sid in lights:
        assert all(v["streetlight_on"] == 0 and v["streetlight_power_w"] == 0 for v in noon[sid])
        assert night[sid] and all(v["streetlight_on"] == 1 for v in night[sid])
        assert all(v["streetlight_power_w"] == 0 or 60 <= v["streetlight_power_w"] <= 120 for v in night[sid])
    temps = lambda d: [v["air_temp_c"] for vs in d.values() for v in vs if "air_temp_c" in v]  # noqa: E731
    assert all(24 <= x <= 33 for x in temps(noon) + temps(night))
    assert sum(temps(noon)) / len(temps(noon)) > sum(temps(night)) / len(temps(night)) + 3
    hums = [v["humidity_pct"] for vs in night.values() for v in vs if "humidity_pct" in v]
    assert all(65 <= x <= 95 for x in hums)
    # bed occupancy and free beds describe one hospital: occupied + free = a constant capacity
    for s in PROFILE.sources:
        if s.kind == "hospital":
            caps = {round(v["beds_available"] / (1 - v["bed_occupancy_pct"] / 100)) for v in noon[s.id]}
            assert len(caps) == 1 and all(50 <= v["bed_occupancy_pct"] <= 95 for v in noon[s.id])
    # solar batteries charge by day
    volts = lambda d: [v["battery_v"] for vs in d.values() for v in vs if "battery_v" in v]  # noqa: E731
    assert sum(volts(noon)) / len(volts(noon)) > sum(volts(night)) / len(volts(night)) + 0.8


def test_a_ward_fills_and_empties_a_few_beds_a_day_not_every_message() -> None:
    # Issue 17: occupancy is a ward's, paced by the wall clock (admissions and discharges, ~0.4 per bed a day),
    # not a random walk on the episodes' compressed clock, so a small puskesmas does not cross its levels hourly.
    model = CityModel(PROFILE, seed=11)
    wards = [s for s in model.sources if s.kind == "hospital"]
    assert wards
    days, report_s = 7, 600.0
    moved = expected = 0.0
    occupancy: list[float] = []
    for s in wards:
        gen = dict(s.gens)["bed_occupancy_pct"]
        cap = s.st["cap"]
        last = None
        for i in range(int(days * 86_400 / report_s)):
            pct = gen(s, model, T0 + i * report_s, 12.0)
            occ = round(pct * cap / 100)
            moved += abs(occ - last) if last is not None else 0
            last = occ
            occupancy.append(pct)
        expected += 0.4 * cap * days
    assert 0.5 * expected <= moved <= 1.2 * expected, (moved, expected)
    assert all(50 <= p <= 100 for p in occupancy)
    assert 60 <= sum(occupancy) / len(occupancy) <= 80


def test_the_shared_daily_cycle_peaks_at_its_hour_and_repeats_daily() -> None:
    # The public curve the live generators and bench/api.py's history fill both shape their values on.
    assert diurnal(14.0, 14.0) == pytest.approx(1.0)
    assert diurnal(2.0, 14.0) == pytest.approx(-1.0)
    assert diurnal(20.0, 14.0) == pytest.approx(0.0, abs=1e-12)
    assert diurnal(3.5, 8.0) == pytest.approx(diurnal(27.5, 8.0))
    assert max(range(24), key=lambda h: diurnal(h, 17.0)) == 17


def test_the_shared_tide_period_and_clamp() -> None:
    assert round(M2_PERIOD_S / 3600, 2) == 12.42  # the principal lunar semi-diurnal tide
    assert (clamp(-3.0, 0.0, 5.0), clamp(2.5, 0.0, 5.0), clamp(9.0, 0.0, 5.0)) == (0.0, 2.5, 5.0)


def test_sources_go_offline_and_come_back_online() -> None:
    model = CityModel(PROFILE, seed=6)
    msgs = run(model, 40_000, 2.0)  # ~22 real hours: a source drops out every OUTAGE_GAP_S / sources (~4 h)
    seen = defaultdict(list)
    silent_while_offline = True
    for _, topic, payload, retain, _ in msgs:
        kind, sid = topic.split("/")[2:]
        if kind == "status":
            assert retain
            seen[sid].append(payload)
        elif kind == "sensor" and seen.get(sid, [b""])[-1] == b"offline":
            silent_while_offline = False
    assert len(seen) >= 3
    for sid, states in seen.items():
        assert all(a != b for a, b in pairwise(states)), (sid, states)  # they alternate
        assert states[0] == b"offline"
    assert silent_while_offline


def test_a_frozen_clock_still_gives_unique_keys() -> None:
    # At benchmark rates a whole chunk of messages shares one clock reading.
    model = CityModel(PROFILE, seed=1, extra_sources=1000)
    msgs = run(model, 5000, 0.0)  # one frozen instant: time stamps still advance per source
    keys = point_keys(parsed(msgs))
    assert len(keys) == len(set(keys))


# --------------------------------------------------------------------------- against a real broker


class Subscriber:
    """A subscriber on city/# that counts what arrives."""

    def __init__(self, port: int, topic: str = "city/#") -> None:
        self.port, self.topic = port, topic
        self.msgs: list[mqtt.MQTTMessage] = []
        self.lock = threading.Lock()
        self.ready = threading.Event()
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"counter-{os.getpid()}-{id(self)}")
        c.on_connect = lambda cl, *_: cl.subscribe(topic, qos=1)
        c.on_subscribe = lambda *_: self.ready.set()
        c.on_message = self._on_message
        c.connect("127.0.0.1", port)
        c.loop_start()
        assert self.ready.wait(10)
        self.client = c

    def _on_message(self, client, userdata, msg) -> None:
        with self.lock:
            self.msgs.append(msg)

    def wait_for(self, n: int, timeout: float = 10.0) -> int:
        """Wait for `n` messages, then count all that arrived ahead of a marker published behind them."""
        deadline = time.monotonic() + timeout
        while len(self.msgs) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        # Nothing more: the broker forwards what it took before the marker ahead of the marker.
        marker = self.topic.replace("#", f"fence-{uuid.uuid4().hex[:12]}")
        publish.single(marker, b"", qos=1, hostname="127.0.0.1", port=self.port)
        wait_until(lambda: any(m.topic == marker for m in self.msgs), timeout, f"the marker on {marker}")
        with self.lock:
            self.msgs = [m for m in self.msgs if m.topic != marker]
            return len(self.msgs)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.mark.slow  # a real broker, end to end
def test_round_trip_through_mosquitto_delivers_every_message(broker) -> None:
    settings = Settings(mqtt_url=broker.url, database_url="sqlite:///:memory:")
    sub = Subscriber(broker.port)
    try:
        stats = run_simulator(settings, PROFILE, rate=500, count=300, bad_share=0.1, seed=3)
        n_sources = len(PROFILE.sources)
        assert stats.sent == 300 and stats.statuses == n_sources
        assert stats.acked == 300 + n_sources and stats.undelivered == 0 and stats.failed == 0
        assert 10 < stats.bad < 60
        assert sub.wait_for(300 + n_sources) == 300 + n_sources
        assert sum(m.payload == b"online" for m in sub.msgs) >= n_sources
    finally:
        sub.close()
    # the statuses stay retained for whoever subscribes later
    late = Subscriber(broker.port, "city/morotai/status/#")
    try:
        assert late.wait_for(n_sources) == n_sources
        assert all(m.retain for m in late.msgs)
    finally:
        late.close()


@pytest.mark.slow  # a real broker, end to end
def test_sigterm_stops_the_run_cleanly_after_draining(broker, caplog, record_property) -> None:
    caplog.set_level(logging.INFO, logger="ingest.simulator.publisher")
    settings = Settings(mqtt_url=broker.url, database_url="sqlite:///:memory:")
    sub = Subscriber(broker.port)
    before = signal.getsignal(signal.SIGTERM)

    def terminate_once_flowing() -> None:
        sub.wait_for(len(PROFILE.sources) + 50)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_flowing, daemon=True)
    killer.start()
    try:
        stats = run_simulator(settings, PROFILE, rate=2000, seed=1)  # no duration, no count: only a signal ends it
        killer.join(5)
        record_property("simulator_ran_s", round(stats.elapsed_s, 2))
        assert stats.sent >= 50 and "received SIGTERM: draining" in caplog.text  # stopped by the signal
        assert stats.undelivered == 0
        assert sub.wait_for(stats.sent + stats.statuses) == stats.sent + stats.statuses
        assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back
    finally:
        sub.close()


def test_an_unreachable_broker_is_reported_not_waited_for_forever() -> None:
    from satupintu.broker import free_port

    settings = Settings(mqtt_url=f"mqtt://127.0.0.1:{free_port()}", database_url="sqlite:///:memory:")
    with pytest.raises(ConnectionError, match="cannot publish"):
        run_simulator(settings, PROFILE, rate=10, count=1, seed=1, connect_timeout=0.5)


@pytest.mark.parametrize("name", ["ternate", "halmahera-utara"])
def test_the_simulator_drives_the_other_maluku_utara_cities_with_messages_their_own_rules_accept(name: str) -> None:
    """Smart Province (issue 15): each city profile of the province runs its own demo."""
    profile = load_profile(name)
    rules = ParseRules.from_profile(profile, Settings(database_url="sqlite:///:memory:"))
    results = parsed(run(CityModel(profile, seed=3, bad_share=0), 3_000, 0.05), rules)
    assert all(topic.startswith(f"city/{name}/") for _t, topic, *_ in results)
    assert not [(topic, p) for _t, topic, _pl, _r, _b, p in results if type(p) is Rejected]
    sources = {p.source_id for *_, p in results if type(p) is Reading}
    assert {s.id for s in profile.sources} <= sources


def test_a_province_deployment_is_one_stream_of_every_city_each_from_its_own_profile() -> None:
    """Issue 15: `satupintu simulate` with SATUPINTU_PROFILE=maluku-utara drives all three cities."""
    province = load_deployment("maluku-utara")
    rules = ParseRules.from_deployment(province, Settings(database_url="sqlite:///:memory:"))
    model = CitiesModel(province.cities, seed=5)
    results = parsed(run(model, 6_000, 0.02), rules)
    assert not [(topic, p) for _t, topic, _pl, _r, _b, p in results if type(p) is Rejected]
    by_city = Counter(topic.split("/")[1] for _t, topic, *_ in results)
    assert set(by_city) == set(province.ids)
    # Each city's share follows its own sources' natural rate (Morotai lists the most, most often).
    natural = {m.city: sum(1 / s.interval for s in m.sources) for m in model.models}
    for city, n in by_city.items():
        assert abs(n / len(results) - natural[city] / sum(natural.values())) < 0.05, (city, by_city)
    # Every city's own sources report under their own city, and each city's desks open tickets.
    for p in province.cities:
        seen = {r.source_id for *_, r in results if type(r) is Reading and r.city == p.city.id}
        assert {s.id for s in p.sources} <= seen, p.city.id
    assert {r.city for *_, r in results if type(r) is TicketEvent} == set(province.ids)
    assert {t.split("/")[1] for t, *_ in model.initial_statuses()} == set(province.ids)
    assert len(model.sources) == sum(len(p.sources) for p in province.cities)
    # Repeatable for a seed, as one city's stream is.
    again = run(CitiesModel(province.cities, seed=5), 6_000, 0.02)
    assert [m[1:] for m in again] == [m[1:5] for m in results]


@pytest.mark.slow  # a real broker, end to end
def test_run_simulator_with_a_deployment_publishes_every_city(broker) -> None:
    two = load_deployment("morotai,ternate")
    settings = Settings(mqtt_url=broker.url, database_url="sqlite:///:memory:")
    sub = Subscriber(broker.port)
    try:
        stats = run_simulator(settings, two, rate=500, count=400, seed=3)
        n_sources = sum(len(p.sources) for p in two.cities)
        assert stats.sent == 400 and stats.statuses == n_sources and stats.undelivered == 0
        assert sub.wait_for(400 + n_sources) == 400 + n_sources
        assert {m.topic.split("/")[1] for m in sub.msgs} == {"morotai", "ternate"}
    finally:
        sub.close()
