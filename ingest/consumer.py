"""The MQTT consumer: receive -> queue -> batch -> commit -> ack -> feedback and notices.

paho's network thread only enqueues. The pipeline thread (the caller of
`Ingestor.run`) takes batches by size or age, has them parsed and committed
(ingest.committer, normally in a writer process) and only then acknowledges
each message (manual acks), so a crash at any point loses nothing: what was not acknowledged is
redelivered by the broker from our persistent session, and the writer's
idempotent keys make the redelivery change nothing.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from app.catalogue.service import catalogue
from app.profile import load_deployment
from app.settings import Settings
from ingest import metrics, sandbox
from ingest.committer import Committer
from ingest.feedback import Advice
from ingest.parser import ParseRules
from ingest.reachability import Unreachable
from ingest.replies import WarningLimit, feedback_payload, feedback_topic, warning_payload
from ingest.writer import Refusal, Stopped, WriteResult

log = logging.getLogger(__name__)

# One catch-all filter, so that a topic breaking the contract (another kind, extra or
# missing levels) is quarantined instead of vanishing unheard; ingest.sandbox sorts what arrives.
TOPIC_FILTERS = (sandbox.SUBSCRIPTION,)


class Ingestor:
    """One ingestor: an MQTT session and a batch pipeline into the database."""

    def __init__(
        self,
        settings: Settings,
        committer: Committer,
        *,
        client_factory: Callable[..., mqtt.Client] = mqtt.Client,
    ) -> None:
        self._settings = settings
        self._committer = committer
        bound = max(settings.ingest_max_unacked - settings.ingest_batch_size, settings.ingest_batch_size)
        self._queue: queue.Queue[tuple[mqtt.MQTTMessage, int, int]] = queue.Queue(maxsize=bound)
        self._stopping = threading.Event()
        # The generation changes on every (dis)connect. A message is acknowledged
        # only on the connection that delivered it: after a reconnect the broker
        # redelivers it (same packet id) and acking the stale copy could
        # acknowledge a different, uncommitted message that reused the id.
        self._gen = 0
        self._ack_lock = threading.Lock()
        self.connected = threading.Event()
        self.on_committed: list[Callable[[WriteResult], None]] = []
        self.totals = {"messages": 0, "points": 0, "duplicates": 0, "quarantined": 0}
        ep = settings.mqtt
        self.unreachable = Unreachable(f"{ep.host}:{ep.port}", settings.mqtt_unreachable_log_s)
        deployment = load_deployment(settings.profile)
        self._rules = ParseRules.from_deployment(deployment, settings)  # the sandbox's
        # What each city accepts, retained on its own topic (its own catalogue).
        self._catalogues = [(f"city/{p.city.id}/catalogue", orjson.dumps(catalogue(p))) for p in deployment.cities]
        self._warnings = WarningLimit(settings.feedback_warning_interval_s)
        self._client = self._make_client(client_factory)

    # --- MQTT ---------------------------------------------------------------

    def _make_client(self, factory: Callable[..., mqtt.Client]) -> mqtt.Client:
        s = self._settings
        # MQTT 3.1.1, not 5: paho decodes a Properties object for every v5
        # message (~15% of the ingestor's CPU, measured with py-spy); the
        # persistent session works the same (clean_session off) and its expiry
        # is the broker's persistent_client_expiration (mosquitto/mosquitto.conf).
        c = factory(
            CallbackAPIVersion.VERSION2,
            client_id=s.mqtt_client_id,
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=True,
        )
        ep = s.mqtt
        if ep.username:
            c.username_pw_set(ep.username, ep.password)
        c.reconnect_delay_set(
            min_delay=max(1, int(s.mqtt_reconnect_min_s)), max_delay=max(1, int(s.mqtt_reconnect_max_s))
        )
        c.max_queued_messages_set(s.feedback_max_outstanding)
        c.on_connect = self._on_connect
        c.on_connect_fail = self._on_connect_fail
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        return c

    def _on_connect_fail(self, _client: mqtt.Client, _ud) -> None:  # noqa: ANN001
        # paho calls this from inside its `except OSError` around the connection attempt and passes no
        # reason, so the exception being handled is the why (refused, no route, name not known, timeout).
        exc = sys.exc_info()[1]
        self.unreachable.failed(f"{type(exc).__name__}: {exc}" if exc else "connection failed")

    def _on_connect(self, client: mqtt.Client, _ud, _flags, reason_code, _props) -> None:  # noqa: ANN001
        if reason_code.is_failure:
            self.unreachable.failed(f"the broker refused the connection: {reason_code}")
            return
        self.unreachable.reached()
        with self._ack_lock:
            self._gen += 1
        group = self._settings.mqtt_shared_group
        subs = [(f"$share/{group}/{f}" if group else f, 1) for f in TOPIC_FILTERS]
        # Subscribing again on every connect is harmless with a present session
        # and restores the subscriptions when the broker lost them.
        client.subscribe(subs)
        client.unsubscribe([f"$share/{group}/{f}" if group else f for f in sandbox.LEGACY_FILTERS])
        # What the city accepts, retained, for integrators who have only MQTT credentials (app.catalogue).
        for topic, body in self._catalogues:
            client.publish(topic, body, qos=1, retain=True)
        self.connected.set()
        log.info(
            "connected to %s:%s (session present: %s)",
            self._settings.mqtt.host,
            self._settings.mqtt.port,
            _flags.session_present,
        )

    def _on_subscribe(self, _client, _ud, _mid, reason_codes, _props) -> None:  # noqa: ANN001
        failed = [rc for rc in reason_codes if rc.is_failure]
        if failed:
            log.error("the broker refused a subscription: %s", failed)
        else:
            log.info("subscribed to %s", ", ".join(TOPIC_FILTERS))

    def _on_disconnect(self, _client, _ud, _flags, reason_code, _props) -> None:  # noqa: ANN001
        with self._ack_lock:
            self._gen += 1
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client, _ud, msg: mqtt.MQTTMessage) -> None:  # noqa: ANN001
        # The network thread only enqueues. When the queue is full it waits here,
        # which stops reading from the socket: that is the backpressure.
        if self._stopping.is_set():
            return  # left unacknowledged: the broker delivers it again to the next session
        item = (msg, time.time_ns() // 1_000_000, self._gen)
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            metrics.BACKPRESSURE.inc()
            while not self._stopping.is_set():
                try:
                    self._queue.put(item, timeout=0.5)
                    return
                except queue.Full:
                    continue
            # Stopping: leave it unacknowledged; the broker delivers it again later.

    # --- pipeline -------------------------------------------------------------

    def start(self) -> None:
        """Connect (in the background, retrying until the broker answers)."""
        s = self._settings
        ep = s.mqtt
        self._client.connect_async(ep.host, ep.port, keepalive=s.mqtt_keepalive_s)
        self._client.loop_start()

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> bool:
        """Publish on the ingestor's own connection (post-commit notices); False when dropped."""
        # QoS 1 by default: paho keeps it through a reconnect (NO_CONN: queued, sent
        # then; at most feedback_max_outstanding), so a batch committed while the
        # broker was away is still announced.
        rc = self._client.publish(topic, payload, qos=qos).rc
        return rc == MQTTErrorCode.MQTT_ERR_SUCCESS or (qos > 0 and rc == MQTTErrorCode.MQTT_ERR_NO_CONN)

    def stop(self) -> None:
        """Ask `run` to finish: stop taking messages, commit and ack what is queued, disconnect."""
        self._stopping.set()

    def run(self) -> None:
        """Process batches until `stop()`; then drain, disconnect and return."""
        self.start()
        try:
            while True:
                batch = self._take_batch()
                if batch:
                    if not self._process(batch):
                        break
                elif self._stopping.is_set():
                    break
        finally:
            self._shutdown()

    def _take_batch(self) -> list[tuple[mqtt.MQTTMessage, int, int]]:
        q = self._queue
        try:
            first = q.get(timeout=0.1)
        except queue.Empty:
            return []
        batch = [first]
        size = self._settings.ingest_batch_size
        deadline = time.monotonic() + max(0.0, (first[1] + self._settings.ingest_batch_max_age_ms) / 1000 - time.time())
        while len(batch) < size:
            try:
                batch.append(q.get_nowait())
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    break
                try:
                    batch.append(q.get(timeout=remaining))
                except queue.Empty:
                    break
        return batch

    def _process(self, batch: list[tuple[mqtt.MQTTMessage, int, int]]) -> bool:
        """Commit, ack, tell. False when stopped before the commit (nothing acked)."""
        raw = []
        tests = []
        for msg, received_ms, _gen in batch:
            try:
                topic = msg.topic
            except UnicodeDecodeError:  # the broker should not let this through; refuse it anyway
                topic = msg._topic.decode("utf-8", "replace")  # noqa: SLF001
            way = sandbox.route(topic)
            if way == "live":
                raw.append((topic, msg.payload, received_ms))
            elif way == "test":
                tests.append((topic, msg.payload, received_ms))
            # "ours": what we published came back on city/#; acknowledged below, nothing else
        if tests:
            self._answer_tests(tests)
        if not raw:
            self._ack(batch)
            return True
        t0 = time.perf_counter()
        try:
            result = self._committer.commit(raw, self._stopping)
        except Stopped:
            log.warning("stopped while the database was unavailable: %d messages left unacknowledged", len(batch))
            return False
        metrics.COMMIT_SECONDS.observe(time.perf_counter() - t0)
        self._ack(batch)
        metrics.RECEIVED.inc(len(raw))
        metrics.POINTS_STORED.inc(result.points_stored)
        metrics.POINTS_DUPLICATE.inc(result.points_duplicate)
        t = self.totals
        t["messages"] += len(raw)  # our own publishes that came back on city/# are not counted
        t["points"] += result.points_stored
        t["duplicates"] += result.points_duplicate
        t["quarantined"] += len(result.refusals)
        if result.refusals:
            metrics.QUARANTINED.inc(len(result.refusals))
            self._feedback(result.refusals)
        if result.warnings:
            self._warn(result.warnings)
        for listener in self.on_committed:
            try:
                listener(result)
            except Exception:  # a notice consumer must never stop ingestion
                log.exception("a post-commit listener failed")
        return True

    def _ack(self, batch: list[tuple[mqtt.MQTTMessage, int, int]]) -> None:
        ack = self._client.ack
        with self._ack_lock:
            gen = self._gen
            stale = 0
            for msg, _rms, mgen in batch:
                if mgen == gen:
                    ack(msg.mid, msg.qos)
                else:
                    stale += 1
        if stale:
            log.info("%d committed messages came from an earlier connection; the broker redelivers them", stale)

    def _feedback(self, refusals: list[Refusal]) -> None:
        publish = self._client.publish
        counts: dict[str, int] = {}
        for r in refusals:
            counts[r.rejected.reason] = counts.get(r.rejected.reason, 0) + 1
            topic = feedback_topic(r.rejected.city, r.rejected.target, r.item.topic)
            info = publish(topic, feedback_payload(r), qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                metrics.FEEDBACK_SKIPPED.inc()
        log.info("quarantined %d: %s", len(refusals), ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))

    def _warn(self, advice: list[Advice]) -> None:
        """Answer accepted messages that carry warnings on their rejected topic, at most once a period per source."""
        for a in self._warnings.due(advice):
            info = self._client.publish(feedback_topic(a.city, a.target), warning_payload(a), qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                metrics.FEEDBACK_SKIPPED.inc()

    def _answer_tests(self, tests: list[tuple[str, bytes, int]]) -> None:
        """The MQTT sandbox: check each message as the live path would and answer on test-result; store nothing."""
        for topic, payload, received_ms in tests:
            try:
                to, body = sandbox.answer(topic, payload, received_ms, self._rules)
            except Exception:  # a dry run must never stop ingestion
                log.exception("the sandbox could not answer a message on %r", topic[:256])
                continue
            self._client.publish(to, body, qos=1)

    def _shutdown(self) -> None:
        self._stopping.set()
        # Drop what is still queued: it is unacknowledged, so the broker keeps it.
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass
        self._client.disconnect()
        self._client.loop_stop()
        self._committer.close()
        t = self.totals
        log.info(
            "ingestor stopped after %d messages: %d readings stored, %d duplicates ignored, %d quarantined",
            t["messages"],
            t["points"],
            t["duplicates"],
            t["quarantined"],
        )
