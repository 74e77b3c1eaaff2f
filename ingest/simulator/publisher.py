"""The network side: paces a CityModel onto the broker with QoS 1 and reports what the broker took."""

from __future__ import annotations

import logging
import os
import random
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion

from app.profile import Deployment, Profile
from app.settings import Settings

from .cities import CitiesModel
from .model import CityModel

log = logging.getLogger(__name__)


@dataclass
class SimStats:
    """What a run did. `acked` counts PUBACKs: what the broker took, not what publish() returned."""

    sent: int = 0  # model messages handed to paho (start statuses not included)
    acked: int = 0  # PUBACKs, start statuses included
    bad: int = 0
    statuses: int = 0  # `online` statuses published at start
    failed: int = 0  # publish() refused by paho (not queued)
    refused: int = 0  # PUBACK with an MQTT 5 failure reason (e.g. not authorised)
    elapsed_s: float = 0.0  # publishing at the paced rate (start statuses and draining not included)
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def undelivered(self) -> int:
        return self.sent + self.statuses - self.acked

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s > 0 else 0.0


class Publisher:
    """A paho QoS 1 publisher that never has more than `max_outstanding` messages unacknowledged."""

    def __init__(self, settings: Settings, stats: SimStats, stop: threading.Event, max_outstanding: int) -> None:
        self._stats = stats
        self._stop = stop
        self._max = max_outstanding
        self._outstanding = 0
        self._cond = threading.Condition()
        self._connected = threading.Event()
        self._refusal: str | None = None
        self._closing = False
        ep = settings.mqtt
        self.where = f"{ep.host}:{ep.port}"
        self._ep = ep
        self._keepalive = settings.mqtt_keepalive_s
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"satupintu-sim-{os.getpid()}-{random.getrandbits(24):06x}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        if ep.username:
            c.username_pw_set(ep.username, ep.password)
        # paho declares int seconds but sleeps a float as well: the simulator keeps the settings' 0.5 s.
        c.reconnect_delay_set(settings.mqtt_reconnect_min_s, settings.mqtt_reconnect_max_s)  # type: ignore[arg-type]
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        self.client = c

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if rc.is_failure:
            self._refusal = str(rc)
            log.error("the broker at %s refused the simulator: %s", self.where, rc)
            return
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, rc: Any, props: Any) -> None:
        if self._connected.is_set() and not self._stop.is_set() and not self._closing:
            log.warning("lost the broker at %s (%s); paho reconnects and resends", self.where, rc)
        self._connected.clear()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, rc: Any, props: Any) -> None:
        with self._cond:
            self._outstanding -= 1
            self._stats.acked += 1
            if rc.is_failure:
                self._stats.refused += 1
            self._cond.notify_all()

    def connect(self, timeout: float = 10.0) -> None:
        self.client.connect_async(self._ep.host, self._ep.port, self._keepalive)
        self.client.loop_start()
        deadline = time.monotonic() + timeout
        while not self._connected.wait(0.1):
            if self._stop.is_set():
                raise KeyboardInterrupt  # a signal while connecting: nothing to drain
            if self._refusal or time.monotonic() > deadline:
                self.client.loop_stop()
                why = f"refused: {self._refusal}" if self._refusal else f"no answer within {timeout:.0f} s"
                raise ConnectionError(f"cannot publish to the MQTT broker at {self.where} ({why})")

    def publish(self, topic: str, payload: bytes, retain: bool) -> bool:
        """Queue one QoS 1 message; waits while `max_outstanding` are unacknowledged. False if not queued."""
        with self._cond:
            while self._outstanding >= self._max:
                if self._stop.is_set() and not self._connected.is_set():
                    return False
                self._cond.wait(0.5)
            self._outstanding += 1
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        # NO_CONN still queues a QoS 1 message: paho sends it after reconnecting.
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            with self._cond:
                self._outstanding -= 1
            self._stats.failed += 1
            return False
        return True

    def close(self, drain_timeout: float) -> None:
        """Wait for outstanding publishes to be acknowledged, then disconnect."""
        deadline = time.monotonic() + drain_timeout
        with self._cond:
            while self._outstanding > 0 and time.monotonic() < deadline:
                self._cond.wait(0.1)
            left = self._outstanding
        if left:
            log.warning("%d messages still unacknowledged after %.0f s; disconnecting anyway", left, drain_timeout)
        self._closing = True
        self.client.disconnect()
        self.client.loop_stop()


def _install_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGTERM and SIGINT finish the run cleanly; a second one interrupts at once."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, _frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("received %s: draining outstanding messages", signal.Signals(signum).name)
        stop.set()

    old: dict[int, Any] = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        old[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    return old


def run_simulator(
    settings: Settings,
    profile: Profile | Deployment,
    *,
    rate: float,
    bad_share: float = 0.0,
    duration: float | None = None,
    count: int | None = None,
    extra_sources: int = 0,
    seed: int | None = None,
    max_outstanding: int = 1000,
    connect_timeout: float = 10.0,
) -> SimStats:
    """Publish the city's traffic at `rate` messages/s until `duration` s or `count` messages, or a signal.

    A Deployment of several cities publishes all of theirs (ingest.simulator.cities), `rate` shared between
    them and `extra_sources` added to each.

    Each source's `online` status is published (retained) first; those are not
    counted in `count`. Returns after every message is acknowledged (or a
    drain timeout), with the stats also logged.
    """
    if rate <= 0:
        raise ValueError("rate must be positive")
    if isinstance(profile, Deployment) and not profile.multi:
        profile = profile.home
    model: CityModel | CitiesModel
    if isinstance(profile, Deployment):
        model = CitiesModel(
            profile.cities,
            seed=seed,
            extra_sources=extra_sources,
            bad_share=bad_share,
            unknown_metric=settings.ingest_unknown_metric,
        )
        who = ", ".join(profile.ids)
    else:
        model = CityModel(
            profile,
            seed=seed,
            extra_sources=extra_sources,
            bad_share=bad_share,
            unknown_metric=settings.ingest_unknown_metric,
        )
        who = profile.city.id
    stats = SimStats()
    stop = threading.Event()
    pub = Publisher(settings, stats, stop, max_outstanding)
    old = _install_signals(stop)
    t0 = time.monotonic()
    try:
        pub.connect(connect_timeout)
        for topic, payload, retain, _ in model.initial_statuses():
            if stop.is_set() or not pub.publish(topic, payload, retain):
                break
            stats.statuses += 1
        log.info(
            "simulating %s: %d sources at %g msg/s%s (bad share %g) to %s",
            who,
            len(model.sources),
            rate,
            f", {count} messages" if count else "",
            bad_share,
            pub.where,
        )
        stats.elapsed_s = _pace(model=model, pub=pub, stats=stats, stop=stop, rate=rate, duration=duration, count=count)
    except KeyboardInterrupt:
        log.info("interrupted: draining outstanding messages")
    finally:
        stop.set()
        stats.elapsed_s = stats.elapsed_s or time.monotonic() - t0
        try:
            pub.close(drain_timeout=max(10.0, max_outstanding / 500))
        finally:
            for sig, h in old.items():
                signal.signal(sig, h)
    stats.by_kind = dict(model.counts)
    stats.bad = model.counts.get("bad", 0)
    log.info(
        "simulator sent %d (%.0f/s, %d bad) plus %d statuses; %d acknowledged, %d failed, %d refused; by kind: %s",
        stats.sent,
        stats.rate,
        stats.bad,
        stats.statuses,
        stats.acked,
        stats.failed,
        stats.refused,
        {k: v for k, v in stats.by_kind.items() if not k.startswith("bad:")},
    )
    return stats


def _pace(
    *,
    model: CityModel | CitiesModel,
    pub: Publisher,
    stats: SimStats,
    stop: threading.Event,
    rate: float,
    duration: float | None,
    count: int | None,
) -> float:
    """A token bucket: one message per tick at demo rates, a 10 ms chunk per tick at high rates.

    Returns the seconds spent."""
    chunk = max(1, int(rate * 0.01)) if rate >= 5000 else 1
    cap = max(chunk, rate * 0.05)  # at most 50 ms of catch-up after a stall
    start = last = time.monotonic()
    next_log = start + 30.0
    tokens = 0.0
    limit = count if count is not None else -1
    next_msg = model.next_message
    publish = pub.publish
    while not stop.is_set() and stats.sent != limit:
        t = time.monotonic()
        if duration is not None and t - start >= duration:
            break
        tokens = min(tokens + (t - last) * rate, cap)
        last = t
        if tokens < chunk:
            time.sleep(min((chunk - tokens) / rate, 0.05))
            continue
        n = int(tokens)
        if limit >= 0:
            n = min(n, limit - stats.sent)
        tokens -= n
        now = time.time()
        for _ in range(n):
            topic, payload, retain, _bad = next_msg(now)
            if not publish(topic, payload, retain):
                break
            stats.sent += 1
        if t >= next_log:
            next_log = t + 30.0
            rate_now = stats.sent / (t - start)
            log.info("simulator: %d sent, %d acknowledged, %.0f msg/s", stats.sent, stats.acked, rate_now)
    return time.monotonic() - start
