"""The web process's own MQTT publisher for Open311 POSTs: the request enters by the ingest path, like any event.

One connection per web process, opened on the first POST and kept; a publish
waits for the broker's PUBACK (QoS 1) so that "accepted" means the broker has
the event and the ingestor will store it. While the broker cannot be reached,
a POST answers 503 at once (a failed connect is retried on the next POST, not
in the background), and nothing half-made is left behind (app.open311.routes).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from app.settings import Settings

log = logging.getLogger(__name__)


class Unreachable(RuntimeError):
    """The broker did not take the event."""


class Publisher:
    """Publish-and-confirm on one lazily opened connection (thread-safe: routes run in a thread pool)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()

    def publish(self, topic: str, payload: bytes) -> None:
        """Send `payload` with QoS 1 and wait for the broker's acknowledgement; raise Unreachable if it does not come."""
        timeout = self._settings.open311_publish_timeout_s
        with self._lock:
            client = self._connect(timeout)
            info = client.publish(topic, payload, qos=1)
        try:
            info.wait_for_publish(timeout)
        except (RuntimeError, ValueError) as exc:  # paho: not queued (no connection) or the queue is full
            raise Unreachable(str(exc)) from exc
        if not info.is_published():
            raise Unreachable(f"the broker did not acknowledge within {timeout:g} s")

    def _connect(self, timeout: float) -> mqtt.Client:
        if self._client is not None and self._connected.is_set():
            return self._client
        self._close()
        ep = self._settings.mqtt
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"satupintu-open311-{os.getpid()}-{secrets.token_hex(3)}"
        )
        if ep.username:
            c.username_pw_set(ep.username, ep.password)
        c.on_connect = lambda _c, _u, _f, rc, _p: self._connected.set() if not rc.is_failure else None
        c.on_disconnect = lambda *_: self._connected.clear()
        c.connect_timeout = timeout
        try:
            c.connect(ep.host, ep.port, keepalive=self._settings.mqtt_keepalive_s)
        except OSError as exc:
            raise Unreachable(f"{ep.host}:{ep.port}: {exc}") from exc
        c.loop_start()
        self._client = c
        if not self._connected.wait(timeout):
            self._close()
            raise Unreachable(f"{ep.host}:{ep.port} did not accept the connection within {timeout:g} s")
        return c

    def _close(self) -> None:
        c, self._client = self._client, None
        self._connected.clear()
        if c is not None:
            c.disconnect()
            c.loop_stop()

    def close(self) -> None:
        """Disconnect (at the web process's shutdown)."""
        with self._lock:
            self._close()
