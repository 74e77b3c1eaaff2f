"""Prometheus metrics of the ingestor (served on SATUPINTU_INGEST_METRICS_PORT when set)."""

from prometheus_client import Counter, Histogram

RECEIVED = Counter("satupintu_ingest_messages_received", "MQTT messages taken from the broker and committed")
POINTS_STORED = Counter("satupintu_ingest_points_stored", "Readings stored (new rows)")
POINTS_DUPLICATE = Counter("satupintu_ingest_points_duplicate", "Readings already stored (redelivered or republished)")
QUARANTINED = Counter("satupintu_ingest_quarantined", "Messages or parts of messages quarantined")
FEEDBACK_SKIPPED = Counter("satupintu_ingest_feedback_skipped", "Rejected-topic notices not sent: too many in flight")
BACKPRESSURE = Counter("satupintu_ingest_backpressure", "Times the receive queue was full and reading paused")
COMMIT_SECONDS = Histogram(
    "satupintu_ingest_commit_seconds",
    "Time to commit one batch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
WARNINGS_SKIPPED = Counter(
    "satupintu_ingest_warnings_skipped", "Live warnings not sent: the source was warned within the rate limit"
)
