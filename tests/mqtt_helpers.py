"""Test helpers: a bounded QoS 1 publisher, a collecting subscriber and polling waits."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from sqlalchemy import create_engine, text


class Publisher:
    """QoS 1 publisher that keeps at most `window` messages unacknowledged and survives broker restarts."""

    def __init__(self, port: int, client_id: str = "test-pub", window: int = 500) -> None:
        self.acked = 0
        self._outstanding = threading.Semaphore(window)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=False
        )
        self.client.on_publish = self._on_publish
        self.client.reconnect_delay_set(1, 2)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_publish(self, *_a) -> None:
        self.acked += 1
        self._outstanding.release()

    def publish(self, topic: str, payload: bytes | str, retain: bool = False) -> None:
        self._outstanding.acquire()
        info = self.client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise RuntimeError(f"publish failed: {info.rc}")

    def wait_all(self, total: int, timeout: float = 60) -> None:
        wait_until(lambda: self.acked >= total, timeout, f"broker acknowledged {total} publishes")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Subscriber:
    """Collects (topic, payload) of everything on `topic_filter`."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"test-sub-{time.monotonic_ns()}")
        self.client.on_message = lambda _c, _u, m: self.messages.append((m.topic, m.payload))
        self.client.on_subscribe = lambda *_a: self._ready.set()
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(topic_filter, qos=1)
        self.client.loop_start()
        assert self._ready.wait(10), "subscription not acknowledged"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def reading_payload(i: int, base_ts: float) -> bytes:
    """A reading with a unique (source, metric, ts) per i."""
    return orjson.dumps({"ts": base_ts + i / 1000, "values": {"water_level_cm": 100.0 + i % 97}})


def stream(pub: Publisher, start: int, stop: int, base_ts: float, sources: int = 50) -> None:
    for i in range(start, stop):
        pub.publish(f"city/morotai/sensor/src-{i % sources}", reading_payload(i, base_ts))


def wait_until(cond: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {what}")


class Db:
    """Read-only look at the database the ingestor writes."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)

    def one(self, sql: str) -> object:
        with self.engine.connect() as c:
            return c.execute(text(sql)).scalar()

    def all(self, sql: str) -> list[tuple]:
        with self.engine.connect() as c:
            return [tuple(r) for r in c.execute(text(sql))]

    def readings(self) -> int:
        return int(self.one("SELECT count(*) FROM readings"))

    def close(self) -> None:
        self.engine.dispose()
