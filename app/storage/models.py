"""The database schema: SQLAlchemy 2 tables shared by the ingestor, the API and the migrations.

Times are integers: epoch milliseconds (`*_ms`) for instants and epoch seconds
(`bucket`) for rollup bucket starts, UTC. Integers keep the narrow readings
table small and compare the same on SQLite and PostgreSQL; the API converts at
its edge.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# The open (active) ticket statuses, as the partial index on tickets says them (app.tickets.queries.ACTIVE).
ACTIVE_WHERE = "status IN ('open', 'assigned', 'in_progress')"

# SQLite only turns INTEGER PRIMARY KEY into an alias of its rowid when the
# type is exactly INTEGER, so surrogate keys are BigInteger on PostgreSQL only.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    # Every model here maps one plain Table: typing `__table__` so (SQLAlchemy types it as the wider
    # FromClause) lets `insert(T)`, `T.update()` and friends type-check (sqlalchemy/sqlalchemy#9130).
    __table__: ClassVar[Table]
    metadata = MetaData(naming_convention=NAMING)


class SourceRow(Base):
    """A sensor or station: registered from the profile or on first sight."""

    __tablename__ = "sources"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str | None] = mapped_column(String(200))
    district: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    registered: Mapped[bool] = mapped_column(Boolean, default=False, doc="listed in the profile or by an admin")
    registered_by: Mapped[str | None] = mapped_column(String(16), doc="'profile' or 'admin'; null: seen only")
    interval_s: Mapped[int | None] = mapped_column(Integer, doc="expected reporting interval, if known")
    first_seen_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_seen_ms: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str | None] = mapped_column(String(16), doc="last word on its status topic: online/offline")
    status_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (
        UniqueConstraint("city", "source_id"),
        Index(None, "city", "district"),
        {"postgresql_with": {"fillfactor": 70}},  # last_seen_ms moves every batch: room for HOT updates
    )


class MetricRow(Base):
    """A metric seen in data: from the catalogue, or registered on first sight."""

    __tablename__ = "metrics"
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit: Mapped[str | None] = mapped_column(String(32))
    registered: Mapped[bool] = mapped_column(Boolean, default=False, doc="listed in the profile's catalogue")
    first_seen_ms: Mapped[int | None] = mapped_column(BigInteger)


class SeriesRow(Base):
    """One (source, metric) pair: the key of readings and rollups, and its latest value."""

    __tablename__ = "series"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    source_pk: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(64))
    last_ts_ms: Mapped[int | None] = mapped_column(BigInteger)
    last_value: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (
        UniqueConstraint("source_pk", "metric"),
        Index(None, "metric"),
        {"postgresql_with": {"fillfactor": 70}},  # room for HOT updates of the latest value
    )


class ReadingRow(Base):
    """A raw reading: narrow, keyed so a redelivered message changes nothing."""

    __tablename__ = "readings"
    series_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    value: Mapped[float] = mapped_column(Float)
    # Only the primary key: every read and the retention pruning go by series
    # then time. A second index would cost each of the ~25k inserts a second
    # (measured: PostgreSQL merge 45 ms -> see bench/ingest.py in the README).
    __table_args__ = ({"sqlite_with_rowid": False},)


class _Rollup:
    series_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="bucket start, epoch seconds")
    count: Mapped[int] = mapped_column(Integer)
    sum: Mapped[float] = mapped_column(Float)
    min: Mapped[float] = mapped_column(Float)
    max: Mapped[float] = mapped_column(Float)
    last: Mapped[float] = mapped_column(Float)
    last_ts_ms: Mapped[int] = mapped_column(BigInteger)


class RollupMinuteRow(_Rollup, Base):
    """Per-minute aggregate of a series, built from the rows actually inserted."""

    __tablename__ = "rollup_1m"
    # Updated in place every batch: fillfactor leaves room for HOT updates on PostgreSQL.
    __table_args__ = ({"sqlite_with_rowid": False, "postgresql_with": {"fillfactor": 70}},)


class RollupHourRow(_Rollup, Base):
    """Per-hour aggregate of a series."""

    __tablename__ = "rollup_1h"
    __table_args__ = ({"sqlite_with_rowid": False, "postgresql_with": {"fillfactor": 70}},)


class TicketRow(Base):
    """A service ticket's current state, derived from its events."""

    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    district: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    resolved_ms: Mapped[int | None] = mapped_column(BigInteger, doc="first resolved/closed/cancelled time")
    due_ms: Mapped[int | None] = mapped_column(BigInteger, doc="SLA breach time: explicit due, else opened + SLA")
    explicit_due_ms: Mapped[int | None] = mapped_column(BigInteger, doc="a due time the events stated")
    sla_minutes: Mapped[int | None] = mapped_column(Integer, doc="the events' own SLA override")
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    stage: Mapped[str | None] = mapped_column(String(16), doc="SP4N-LAPOR! stage the events last stated")
    stage_since_ms: Mapped[int | None] = mapped_column(BigInteger, doc="when the ticket entered its stage")
    stage_due_ms: Mapped[int | None] = mapped_column(BigInteger, doc="when it is late in that stage (working days)")
    __table_args__ = (
        UniqueConstraint("city", "ticket_id"),
        Index(None, "city", "agency", "service", "status"),
        Index(None, "status", "due_ms"),
        Index(None, "opened_ms"),
        Index(None, "resolved_ms"),
        # The open tickets alone (a few thousand of hundreds of thousands): the overview's counts and the
        # `status=active` list. Queries must say the same words for the planner to use it (app.tickets.queries).
        Index(
            "ix_tickets_active",
            "city",
            "opened_ms",
            "due_ms",
            sqlite_where=text(ACTIVE_WHERE),
            postgresql_where=text(ACTIVE_WHERE),
        ),
    )


class TicketEventRow(Base):
    """One step of a ticket's lifecycle; stored once per (ticket, status, ts)."""

    __tablename__ = "ticket_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    ticket_pk: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    # What the event stated; the ticket row is derived from all of them (app.tickets.lifecycle).
    agency: Mapped[str] = mapped_column(String(64))
    service: Mapped[str | None] = mapped_column(String(64))
    priority: Mapped[str | None] = mapped_column(String(16))
    district: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str | None] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    sla_minutes: Mapped[int | None] = mapped_column(Integer)
    due_ms: Mapped[int | None] = mapped_column(BigInteger)
    stage: Mapped[str | None] = mapped_column(String(16))
    __table_args__ = (UniqueConstraint("ticket_pk", "status", "ts_ms"),)


class TicketDayRow(Base):
    """Tickets per UTC day and service: opened that day; resolved, within SLA, cancelled that day (app.services.rollup)."""

    __tablename__ = "ticket_day"
    city: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="UTC day start, epoch seconds")
    agency: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True, doc="'' for tickets without a service")
    opened: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[int] = mapped_column(Integer, default=0)
    resolved_with_due: Mapped[int] = mapped_column(Integer, default=0)
    resolved_within_sla: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)


class TicketDayHistRow(Base):
    """Resolved tickets per UTC day, service and resolution-time bucket (log-spaced minutes, app.services.rollup)."""

    __tablename__ = "ticket_day_hist"
    city: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    agency: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class QuarantineRow(Base):
    """A message (or part of one) that could not be stored as given, with the reason."""

    __tablename__ = "quarantine"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    city: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(64), doc="source or agency id, when the topic named a valid one")
    topic: Mapped[str] = mapped_column(String(512), doc="truncated")
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text)
    payload: Mapped[bytes] = mapped_column(LargeBinary, doc="truncated to the quarantine_payload_bytes setting")
    payload_size: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index(None, "received_ms"), Index(None, "city", "reason"))


class IngestMinuteRow(Base):
    """Messages received, stored and quarantined per city and minute (the overview's pulse)."""

    __tablename__ = "ingest_minute"
    city: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    received: Mapped[int] = mapped_column(Integer, default=0)
    stored: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)


class TokenRow(Base):
    """An API token: only its SHA-256 is stored; the token itself is shown once at creation."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16), doc="viewer, operator or admin")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    last_used_ms: Mapped[int | None] = mapped_column(BigInteger)
    revoked_ms: Mapped[int | None] = mapped_column(BigInteger)
    expires_ms: Mapped[int | None] = mapped_column(
        BigInteger, doc="None: until revoked (API tokens); set on sign-in sessions"
    )
    user_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id"), index=True, doc="the user a sign-in session belongs to; None for API tokens"
    )
    agency: Mapped[str | None] = mapped_column(
        String(64), doc="the agency the token speaks for (an Open311 request's personal data); None: city-wide"
    )
    city: Mapped[str | None] = mapped_column(
        String(64), doc="Smart Province: the one city it may see and act on; None: every city of the deployment"
    )


class UserRow(Base):
    """A person who signs in with a username and password; each sign-in is a session token (api_tokens.user_id)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, doc="lower case; one namespace for the deployment")
    role: Mapped[str] = mapped_column(String(16), doc="viewer, operator or admin")
    password_hash: Mapped[str] = mapped_column(String(255), doc="scrypt$n$r$p$salt$key (app.auth.passwords)")
    created_ms: Mapped[int] = mapped_column(BigInteger)
    password_changed_ms: Mapped[int] = mapped_column(BigInteger)
    last_login_ms: Mapped[int | None] = mapped_column(BigInteger)
    disabled_ms: Mapped[int | None] = mapped_column(BigInteger)
    agency: Mapped[str | None] = mapped_column(String(64), doc="the agency the user works for; None: city-wide")
    city: Mapped[str | None] = mapped_column(
        String(64), doc="Smart Province: the one city its sessions may see; None: every city (a province user)"
    )


class AuditRow(Base):
    """One write through the API or the CLI: who did what to what."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100), doc="token name, or cli:<user>")
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (Index(None, "ts_ms"),)


class AlarmRuleRow(Base):
    """An alarm rule: seeded from the profile, editable by an admin; every change is in the audit log."""

    __tablename__ = "alarm_rules"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), doc="threshold, rate, silence, sla or ticket_count")
    metric: Mapped[str | None] = mapped_column(String(64), doc="threshold and rate rules")
    params: Mapped[str] = mapped_column(Text, doc="JSON: the kind's parameters (app.alarms.rules)")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    origin: Mapped[str] = mapped_column(String(16), doc="'profile' or 'admin'")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    deleted_ms: Mapped[int | None] = mapped_column(
        BigInteger, doc="deleted by an admin: the profile does not bring it back"
    )
    __table_args__ = (UniqueConstraint("city", "rule_id"),)


class AlarmRow(Base):
    """One alarm: raised by a rule for a subject (source, ticket or district), acknowledged, cleared."""

    __tablename__ = "alarms"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(128), doc="source_id, ticket_id or district the alarm is about")
    open_key: Mapped[str | None] = mapped_column(
        String(300), unique=True, doc="city|rule|subject while not cleared: at most one open alarm per rule and subject"
    )
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), doc="active, acknowledged or cleared")
    source_id: Mapped[str | None] = mapped_column(String(64))
    district: Mapped[str | None] = mapped_column(String(64))
    ticket_id: Mapped[str | None] = mapped_column(String(64))
    metric: Mapped[str | None] = mapped_column(String(64))
    value: Mapped[float | None] = mapped_column(Float, doc="the value that raised or last changed it")
    detail: Mapped[str] = mapped_column(Text, doc="JSON: what the message is made of")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    raised_ms: Mapped[int] = mapped_column(BigInteger)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    acked_ms: Mapped[int | None] = mapped_column(BigInteger)
    acked_by: Mapped[str | None] = mapped_column(String(100))
    cleared_ms: Mapped[int | None] = mapped_column(BigInteger)
    cleared_by: Mapped[str | None] = mapped_column(String(100), doc="an operator, or null when the condition ended")
    __table_args__ = (
        Index(None, "city", "state", "severity"),
        Index(None, "raised_ms"),
        Index(None, "cleared_ms"),
    )


class AlarmEventRow(Base):
    """One step in an alarm's history."""

    __tablename__ = "alarm_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(
        String(16), doc="raised, escalated, deescalated, acknowledged, cleared, comment, reraised"
    )
    actor: Mapped[str | None] = mapped_column(String(100), doc="who; null for the rule engine")
    comment: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None] = mapped_column(Float)
    __table_args__ = (Index(None, "alarm_id", "at_ms"),)


class AlarmPendingRow(Base):
    """A condition that holds but not yet for the rule's minimum duration (threshold rules)."""

    __tablename__ = "alarm_pending"
    city: Mapped[str] = mapped_column(String(64), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject: Mapped[str] = mapped_column(String(128), primary_key=True)
    since_ms: Mapped[int] = mapped_column(BigInteger, doc="time of the first reading in the condition")
    last_ms: Mapped[int] = mapped_column(BigInteger)
    severity: Mapped[str] = mapped_column(String(16))
    value: Mapped[float] = mapped_column(Float)


class AlarmShelfRow(Base):
    """A rule or a source shelved (silenced) for a period: it raises nothing until then."""

    __tablename__ = "alarm_shelves"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(64))
    rule_id: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[str | None] = mapped_column(String(64))
    from_ms: Mapped[int] = mapped_column(BigInteger)
    until_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    ended_ms: Mapped[int | None] = mapped_column(BigInteger, doc="unshelved early")
    __table_args__ = (Index(None, "city", "until_ms"),)


class WebhookDeliveryRow(Base):
    """An alarm transition (or an incident's late step) to POST to a webhook (outbox); `dead` once retries are exhausted."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    alarm_id: Mapped[int | None] = mapped_column(BigInteger, doc="null for an incident's delivery")
    incident_id: Mapped[int | None] = mapped_column(BigInteger, doc="an incident's late step escalated (issue 13)")
    url: Mapped[str] = mapped_column(String(500))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), doc="pending, delivered or dead")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_ms: Mapped[int] = mapped_column(BigInteger, doc="not before")
    claimed_until_ms: Mapped[int] = mapped_column(BigInteger, default=0, doc="a dispatcher is sending it until then")
    last_error: Mapped[str | None] = mapped_column(Text)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    done_ms: Mapped[int | None] = mapped_column(BigInteger)
    __table_args__ = (Index(None, "status", "next_ms"),)


class TrafficRow(Base):
    """Messages and live warnings per source or agency and 5 minutes: the integrator health page's counts."""

    __tablename__ = "integrator_traffic"
    city: Mapped[str] = mapped_column(String(64), primary_key=True)
    target: Mapped[str] = mapped_column(String(64), primary_key=True, doc="source or agency id")
    bucket: Mapped[int] = mapped_column(BigInteger, primary_key=True, doc="start of the 5 minutes, epoch ms")
    messages: Mapped[int] = mapped_column(Integer, default=0, doc="messages received (stored or refused)")
    warnings: Mapped[int] = mapped_column(Integer, default=0, doc="accepted messages that carried a warning")
    last_ms: Mapped[int] = mapped_column(BigInteger, doc="the last message of the 5 minutes, epoch ms")
    __table_args__ = (Index(None, "bucket"),)


# --- regional warnings (issue 12) ----------------------------------------------------------------------------


class AlertRow(Base):
    """A CAP 1.2 alert received on `city/{city}/alert/{sender}`: its fields, areas, relevance and original XML.

    Stored once per (city, CAP sender, CAP identifier). An Update or Cancel marks the alerts it references
    `updated` or `cancelled`; an alert and the updates that follow it share a `thread_id` (the first one's id),
    which is what its warning alarm is about (`alert:<thread_id>`).
    """

    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(255), doc="CAP <sender>")
    identifier: Mapped[str] = mapped_column(String(255), doc="CAP <identifier>")
    publisher: Mapped[str] = mapped_column(String(64), doc="the {sender} id of the MQTT topic it came on")
    thread_id: Mapped[int | None] = mapped_column(BigInteger, doc="the id of the first alert of its Update chain")
    state: Mapped[str] = mapped_column(String(16), doc="active, updated (replaced by a later one) or cancelled")
    msg_type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    scope: Mapped[str] = mapped_column(String(16))
    refs: Mapped[str] = mapped_column(Text, doc="JSON [[sender, identifier], ...] from <references>")
    event: Mapped[str | None] = mapped_column(String(255))
    category: Mapped[str | None] = mapped_column(String(16))
    severity: Mapped[str | None] = mapped_column(String(16), doc="CAP severity")
    urgency: Mapped[str | None] = mapped_column(String(16))
    certainty: Mapped[str | None] = mapped_column(String(16))
    headline: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    parameters: Mapped[str] = mapped_column(Text, doc="JSON [[valueName, value], ...]")
    areas: Mapped[str] = mapped_column(Text, doc="GeoJSON FeatureCollection")
    sent_ms: Mapped[int] = mapped_column(BigInteger)
    effective_ms: Mapped[int | None] = mapped_column(BigInteger)
    expires_ms: Mapped[int | None] = mapped_column(BigInteger)
    received_ms: Mapped[int] = mapped_column(BigInteger)
    ended_ms: Mapped[int | None] = mapped_column(BigInteger, doc="when an Update or Cancel replaced it (received)")
    relevant: Mapped[bool] = mapped_column(Boolean)
    distance_km: Mapped[float | None] = mapped_column(Float)
    districts: Mapped[str] = mapped_column(Text, doc="JSON list of district ids")
    alarm_severity: Mapped[str | None] = mapped_column(String(16), doc="ours, when relevant")
    xml: Mapped[str] = mapped_column(Text, doc="the document as received")
    __table_args__ = (
        UniqueConstraint("city", "sender", "identifier"),
        Index(None, "city", "state", "relevant"),
        Index(None, "thread_id"),
        Index(None, "sent_ms"),
    )


class Open311RequestRow(Base):
    """An Open311 POST: its token, the ticket it asked for, and the citizen's personal data, kept apart.

    The ticket event published on MQTT carries no personal data; the name, email and phone stay here, read only by
    an admin of its agency (app.open311, app.auth.scope), and are erased after `open311_personal_data_days` (the
    row stays: the token answers).
    """

    __tablename__ = "open311_requests"
    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    city: Mapped[str] = mapped_column(String(64))
    ticket_id: Mapped[str] = mapped_column(String(64))
    agency: Mapped[str] = mapped_column(String(64))
    created_ms: Mapped[int] = mapped_column(BigInteger)
    api_token_id: Mapped[int | None] = mapped_column(Integer, doc="the reporter token that posted it")
    address: Mapped[str | None] = mapped_column(String(250))
    media_url: Mapped[str | None] = mapped_column(String(500))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(50))
    erased_ms: Mapped[int | None] = mapped_column(BigInteger, doc="when the personal data was erased (retention)")
    __table_args__ = (UniqueConstraint("city", "ticket_id"), Index(None, "created_ms"))


# --- incidents (issue 13) ---------------------------------------------------------------------------


class IncidentRow(Base):
    """A coordinated response: opened by an operator (from alarms, tickets or a phone call), worked by its SOP."""

    __tablename__ = "incidents"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64), doc="the SOP's id: banjir, kebakaran, ...")
    title: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), doc="open, responding, monitoring, closed or cancelled")
    district: Mapped[str | None] = mapped_column(String(64))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    agencies: Mapped[str] = mapped_column(Text, doc="JSON list of agency ids")
    owner: Mapped[str] = mapped_column(String(100), doc="the operator who holds it now")
    opened_by: Mapped[str] = mapped_column(String(100))
    sop_version: Mapped[int] = mapped_column(Integer, doc="the SOP version its steps were copied from")
    opened_ms: Mapped[int] = mapped_column(BigInteger)
    first_action_ms: Mapped[int | None] = mapped_column(BigInteger, doc="the first step done or skipped")
    closed_ms: Mapped[int | None] = mapped_column(BigInteger, doc="closed or cancelled")
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    __table_args__ = (Index(None, "city", "state"), Index(None, "opened_ms"))


class IncidentStepRow(Base):
    """One SOP step copied into an incident: open, done or skipped; `late_ms` once past its target."""

    __tablename__ = "incident_steps"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer, doc="1-based position in the checklist")
    step_id: Mapped[str] = mapped_column(String(64))
    text_id: Mapped[str] = mapped_column(Text)
    text_en: Mapped[str] = mapped_column(Text)
    agency: Mapped[str | None] = mapped_column(String(64))
    mandatory: Mapped[bool] = mapped_column(Boolean)
    within_min: Mapped[int | None] = mapped_column(Integer, doc="target from the incident's start, minutes")
    status: Mapped[str] = mapped_column(String(16), doc="open, done or skipped")
    done_ms: Mapped[int | None] = mapped_column(BigInteger)
    done_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text, doc="the note of a done step, the reason of a skipped one")
    late_ms: Mapped[int | None] = mapped_column(BigInteger, doc="when it was found past its target and escalated")
    level2_after_min: Mapped[int | None] = mapped_column(
        Integer, doc="minutes after late_ms, still open, to escalate to the rota's level 2; null: never"
    )
    late2_ms: Mapped[int | None] = mapped_column(BigInteger, doc="when it was escalated to the rota's level 2")
    __table_args__ = (UniqueConstraint("incident_id", "step_id"), Index(None, "status", "late_ms"))


class IncidentLinkRow(Base):
    """An alarm or ticket linked to an incident."""

    __tablename__ = "incident_links"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), doc="alarm or ticket")
    ref: Mapped[str] = mapped_column(String(64), doc="the alarm id or the ticket id")
    linked_ms: Mapped[int] = mapped_column(BigInteger)
    linked_by: Mapped[str] = mapped_column(String(100))
    __table_args__ = (UniqueConstraint("incident_id", "kind", "ref"), Index(None, "kind", "ref"))


class IncidentLogRow(Base):
    """One timestamped entry of an incident's log: who did what."""

    __tablename__ = "incident_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at_ms: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str | None] = mapped_column(String(100), doc="null for the clock (a late step)")
    kind: Mapped[str] = mapped_column(String(16), doc="opened, note, state, step, link, handover, late")
    text: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[str] = mapped_column(Text, doc="JSON: the entry's fields (state, step, link, ...)")
    __table_args__ = (Index(None, "incident_id", "at_ms"),)


class IncidentSopRow(Base):
    """A standard operating procedure per incident type: seeded from the profile, edited by admins (versioned)."""

    __tablename__ = "incident_sops"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    city: Mapped[str] = mapped_column(String(64))
    sop_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, doc="JSON: the SOP as in the profile (app.incidents.sops)")
    origin: Mapped[str] = mapped_column(String(16), doc="'profile' or 'admin'")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_ms: Mapped[int] = mapped_column(BigInteger)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    __table_args__ = (UniqueConstraint("city", "sop_id"),)
