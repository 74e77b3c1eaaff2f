"""The hub: one MQTT subscription per web process, fanned out to every live client.

paho's network thread decodes each change notice once and hands the framed
event to the event loop (`call_soon_threadsafe`), which puts it in every
matching client's bounded queue. Nothing here touches the database: a client
re-reads only what a notice names, through the API, so N open dashboards cost
N queue puts per notice, not N queries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import signal
import socket
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Sequence

import paho.mqtt.client as mqtt
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import Counter, Gauge

from app.live import events
from app.live.events import Event
from app.live.notices import SUBSCRIBE_FILTER, Change, Publisher, decode
from app.settings import Settings

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0  # proxies close idle streams after 30-60 s; the dashboard calls a channel dead after 2 missed beats
QUEUE_SIZE = 256  # events waiting per client; past it the client gets one resync instead of the backlog

CLIENTS = Gauge("satupintu_live_clients", "Open live-push connections (SSE and WebSocket)")
NOTICES = Counter("satupintu_live_notices", "Change notices received from the broker and fanned out")
RESYNCS = Counter("satupintu_live_resyncs", "Resync markers sent: a client fell behind, or the hub lost the broker")


Cities = str | Collection[str] | None  # what a client streams: one city, some (a province user's), or all (None)


def _cities(city: Cities) -> frozenset[str] | None:
    return frozenset((city,)) if isinstance(city, str) else frozenset(city) if city is not None else None


class Subscription:
    """One client's place at the hub: a bounded queue of events for one city, some cities, or all (None)."""

    def __init__(self, city: Cities, size: int) -> None:
        self.cities = _cities(city)
        self._q: asyncio.Queue[Event | None] = asyncio.Queue(maxsize=max(1, size))

    def offer(self, ev: Event) -> None:
        """Queue `ev` without waiting (on the event loop); a full queue becomes one resync."""
        if ev.city is not None and self.cities is not None and ev.city not in self.cities:
            return
        try:
            self._q.put_nowait(ev)
        except asyncio.QueueFull:
            # A slow client: drop its backlog, oldest first and all of it, for one
            # resync marker. Re-reading everything covers what it missed, and the
            # notices behind the marker are still delivered.
            self._drain()
            self._q.put_nowait(events.resync("this client fell behind"))
            RESYNCS.inc()

    def close(self) -> None:
        self._drain()
        self._q.put_nowait(None)

    async def get(self) -> Event | None:
        """The next event; None once the hub closed the subscription."""
        return await self._q.get()

    def _drain(self) -> None:
        while not self._q.empty():
            self._q.get_nowait()


def _client_id() -> str:
    # A clean session that nobody resumes: unique per process, so web replicas never kick each other off.
    host = re.sub(r"[^a-z0-9-]", "", socket.gethostname().lower())[:30] or "local"
    return f"satupintu-web-{host}-{os.getpid()}-{secrets.token_hex(3)}"


class Hub:
    """The web process's one subscriber to `city/+/changes`, and its live clients."""

    def __init__(
        self,
        settings: Settings,
        *,
        client_factory: Callable[..., mqtt.Client] = mqtt.Client,
        heartbeat_s: float = HEARTBEAT_S,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self._settings = settings
        self.heartbeat_s = heartbeat_s
        self._queue_size = queue_size
        self._subs: set[Subscription] = set()
        # Called on the event loop with every event fanned out (the web process's response cache listens).
        self.listeners: list[Callable[[Event], None]] = []
        # Awaited after the listeners saw a batch of notices and before any client hears of them (the
        # response cache computes what the notices staled, so a client never re-reads what was before).
        self.before_announce: list[Callable[[], Awaitable[None]]] = []
        self._pending: list[Event] = []
        self._announcer: asyncio.Task | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.live = False  # subscribed to the broker right now
        self._chained: list[tuple[int, object, object]] = []  # (signal, previous handler, ours)
        # Notices are hints: QoS 0 and a clean session. What is missed while the
        # hub is away from the broker is made good by a resync when it is back.
        c = client_factory(
            CallbackAPIVersion.VERSION2, client_id=_client_id(), protocol=mqtt.MQTTv311, clean_session=True
        )
        ep = settings.mqtt
        if ep.username:
            c.username_pw_set(ep.username, ep.password)
        c.reconnect_delay_set(
            min_delay=max(1, int(settings.mqtt_reconnect_min_s)), max_delay=max(1, int(settings.mqtt_reconnect_max_s))
        )
        c.on_connect = self._on_connect
        c.on_subscribe = self._on_subscribe
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self._client = c

    # --- lifecycle (on the event loop) ------------------------------------------

    def start(self) -> None:
        """Connect in the background, retrying until the broker answers; call on the serving event loop."""
        self._loop = asyncio.get_running_loop()
        ep = self._settings.mqtt
        self._client.connect_async(ep.host, ep.port, keepalive=self._settings.mqtt_keepalive_s)
        self._client.loop_start()
        self._end_streams_on_exit_signals()

    def stop(self) -> None:
        """End every client's stream and disconnect."""
        self.live = False
        if self._announcer is not None:
            self._announcer.cancel()
        self._pending.clear()
        self._close_all()
        self._loop = None  # what paho still hands over is dropped
        for sig, prev, ours in self._chained:
            if signal.getsignal(sig) is ours:
                signal.signal(sig, prev)
        self._chained.clear()
        self._client.disconnect()
        # Not joined here: between reconnect attempts paho sleeps up to 1 s before
        # it sees the stop, and shutdown need not wait for that.
        threading.Thread(target=self._client.loop_stop, name="live-hub-stop", daemon=True).start()

    async def stream(self, city: Cities = None) -> AsyncGenerator[Event, None]:
        """A client's events: hello, then notices for `city` (a city, several, or all when None), heartbeats."""
        sub = Subscription(city, self._queue_size)
        self._subs.add(sub)
        CLIENTS.inc()
        cities = sorted(sub.cities) if sub.cities is not None else None
        try:
            yield events.hello(
                live=self.live,
                city=cities[0] if cities is not None and len(cities) == 1 else None,
                heartbeat_s=self.heartbeat_s,
                cities=cities,
            )
            while True:
                try:
                    ev = await asyncio.wait_for(sub.get(), self.heartbeat_s)
                except TimeoutError:
                    ev = events.heartbeat(live=self.live)
                if ev is None:
                    return
                yield ev
        finally:
            self._subs.discard(sub)
            CLIENTS.dec()

    @property
    def clients(self) -> int:
        return len(self._subs)

    def _fan_out(self, ev: Event) -> None:
        if not self.before_announce:
            NOTICES.inc()
            self._tell_listeners(ev)
            self._offer(ev)
            return
        # Notices that arrive while a batch is being prepared wait and go out together, in order.
        self._pending.append(ev)
        if self._announcer is None or self._announcer.done():
            self._announcer = asyncio.get_running_loop().create_task(self._announce())

    async def _announce(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            for ev in batch:
                NOTICES.inc()
                self._tell_listeners(ev)
            for hook in self.before_announce:
                try:
                    await hook()
                except Exception:  # announcing late is better than not at all
                    log.exception("a live hub pre-announce hook failed")
            for ev in batch:
                self._offer(ev)

    def _offer(self, ev: Event) -> None:
        for sub in self._subs:
            sub.offer(ev)

    def _tell_listeners(self, ev: Event) -> None:
        for listener in self.listeners:
            try:
                listener(ev)
            except Exception:  # a listener's bug must not stop the fan-out
                log.exception("a live hub listener failed on a %s event", ev.type)

    def _close_all(self) -> None:
        for sub in list(self._subs):
            sub.close()

    def _end_streams_on_exit_signals(self) -> None:
        # The server waits for open responses to finish before it shuts down (and
        # only then runs the lifespan's shutdown), and a live stream never
        # finishes by itself: uvicorn would wait forever. So on the signal that
        # stops the server, end the streams first; clients reconnect to the next
        # server. Chained to the server's own handler, which still does the rest.
        if threading.current_thread() is not threading.main_thread():
            return  # signals reach only the main thread's handlers (a server in a test thread)
        for sig in (signal.SIGINT, signal.SIGTERM):
            prev = signal.getsignal(sig)
            if not callable(prev):
                continue  # default or ignored: no server is catching it to shut down gracefully

            def ours(signum: int, frame: object, prev: Callable = prev) -> None:
                self._call_soon(self._close_all)
                prev(signum, frame)

            signal.signal(sig, ours)
            self._chained.append((sig, prev, ours))

    def _resync_all(self, reason: str) -> None:
        self._tell_listeners(events.resync(reason))
        for sub in self._subs:
            sub.offer(events.resync(reason))
            RESYNCS.inc()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        """Publish on the hub's connection (the API's own alarm transitions); False when paho refused it.

        QoS 1: paho keeps it until the broker is back if it is away right now.
        """
        rc = self._client.publish(topic, payload, qos=qos).rc
        return rc in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN)

    # --- paho's network thread --------------------------------------------------

    def receive(self, topic: str, payload: bytes) -> None:
        """Handle one message from the broker: decode and frame it here, fan it out on the loop."""
        notice = decode(topic, payload)
        if notice is None:
            log.warning("ignored a message on %s that is not a v1 change notice: %r", topic[:200], payload[:200])
            return
        self._call_soon(self._fan_out, events.changes(notice))

    def _call_soon(self, fn: Callable, *args: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed in between: the app is shutting down
            loop.call_soon_threadsafe(fn, *args)

    def _on_message(self, _client, _ud, msg: mqtt.MQTTMessage) -> None:  # noqa: ANN001
        try:
            self.receive(msg.topic, msg.payload)
        except Exception:  # never raise into paho's loop
            log.exception("a change notice could not be handled: %r", msg.payload[:200])

    def _on_connect(self, client: mqtt.Client, _ud, _flags, reason_code, _props) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            log.error("live hub: the broker refused the connection: %s", reason_code)
            return
        client.subscribe(SUBSCRIBE_FILTER, qos=0)

    def _on_subscribe(self, _client, _ud, _mid, reason_codes, _props) -> None:  # noqa: ANN001
        if any(rc.is_failure for rc in reason_codes):
            log.error("live hub: the broker refused the subscription to %s (check its ACL)", SUBSCRIBE_FILTER)
            return
        self.live = True
        log.info("live hub subscribed to %s", SUBSCRIBE_FILTER)
        # Clients that connected while we were away may have missed notices.
        self._call_soon(self._resync_all, "the live channel (re)joined the broker")

    def _on_disconnect(self, _client, _ud, _flags, reason_code, _props) -> None:  # noqa: ANN001
        if self.live:
            log.warning("live hub lost the broker (%s); reconnecting", reason_code)
        self.live = False


def start_hub(app: FastAPI) -> Hub:
    """The app's hub, started on first use; call from the event loop (the lifespan, or a live route)."""
    hub = getattr(app.state, "live_hub", None)
    if hub is None:
        hub = Hub(app.state.settings)
        hub.start()
        app.state.live_hub = hub
    return hub


def stop_hub(app: FastAPI) -> None:
    """Stop the app's hub, if it was started (lifespan shutdown)."""
    hub = getattr(app.state, "live_hub", None)
    if hub is not None:
        app.state.live_hub = None
        hub.stop()


def announce(app: FastAPI, changes: Sequence[Change]) -> None:
    """After a commit of the web process (an operator's or an admin's write): publish `changes` through its hub.

    Nothing when the hub never started (no live client, no broker: nobody to tell).
    """
    hub = getattr(app.state, "live_hub", None)
    if hub is not None and changes:
        Publisher(hub.publish)(changes)
