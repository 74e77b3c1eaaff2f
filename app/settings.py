"""Runtime settings: every knob of SatuPintu, read once from `SATUPINTU_*` env vars or `.env`."""

from __future__ import annotations

import hashlib
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


def with_psycopg_driver(url: str) -> str:
    """`postgres://` and `postgresql://` (what managed databases hand out) as `postgresql+psycopg://`."""
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def _database_key(url: str) -> str:
    """The database a URL names, without its password; a SQLite file by its absolute path (one per data directory)."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:":
        u = u.set(database=str(Path(u.database).resolve()))
    return u.render_as_string(hide_password=True)


def _default_client_id(data: dict[str, Any]) -> str:
    # A persistent MQTT session is keyed by client id: it must be stable across
    # restarts of one ingestor and distinct between ingestors. The host tells
    # replicas apart (docker gives each its own hostname); the database tells
    # apart two ingestors on one host writing to different databases, which
    # would otherwise share one session and take each other's messages.
    host = "".join(c for c in socket.gethostname().lower() if c.isalnum() or c == "-")[:40]
    url = data.get("database_url")
    db = hashlib.sha256(_database_key(url).encode()).hexdigest()[:8] if url else "nodb"
    return f"satupintu-ingest-{host or 'local'}-{db}"


class Settings(BaseSettings):
    """All settings; the field docs are the reference (docs/settings.md lists them: scripts/settings_doc.py)."""

    model_config = SettingsConfigDict(env_prefix="SATUPINTU_", env_file=".env", extra="ignore")

    database_url: str = Field(
        "sqlite:///./data/satupintu.db",
        description="SQLAlchemy URL. SQLite (WAL) is the embedded default; "
        "postgresql+psycopg://user@host/db for production (postgres:// and postgresql:// mean the same).",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="How long a SQLite writer waits for a lock before the batch is retried."
    )
    mqtt_url: str = Field(
        "mqtt://127.0.0.1:1883",
        description="Broker URL, mqtt://[user:password@]host:port.",
    )
    profile: str = Field("morotai", description="City profile: a shipped profile's name or a path to a YAML file.")
    mqtt_auth_dir: str = Field(
        "data/mosquitto",
        description="Where `satupintu integrator` keeps the broker's passwd and acl; the integrator health page "
        "reads the acl to know which sources and agencies are each integrator's.",
    )

    # --- MQTT session -------------------------------------------------------
    mqtt_client_id: str = Field(
        default_factory=_default_client_id,
        description="The ingestor's MQTT client id. The broker keeps one persistent session per id (the messages "
        "not yet acknowledged, kept while the ingestor is away), so two ingestors with one id take each other's "
        "messages. Default: satupintu-ingest-<host>-<hash of the database URL without its password>, one session per "
        "host and database (replicas on a shared subscription differ by hostname). Set it only to keep a session "
        "across a move to another host or database.",
    )
    mqtt_shared_group: str | None = Field(
        None,
        description="When set, subscribe through $share/<group>/... so several ingestors split the load.",
    )
    mqtt_keepalive_s: int = Field(
        30, ge=5, le=3600, description="Seconds between pings; a dead connection is noticed after 1.5x this."
    )
    mqtt_reconnect_min_s: float = Field(0.5, gt=0, description="First wait before reconnecting to the broker.")
    mqtt_reconnect_max_s: float = Field(
        15.0, gt=0, description="Longest wait between reconnect attempts (the wait doubles up to this)."
    )

    # --- Ingest pipeline ----------------------------------------------------
    ingest_batch_size: int = Field(
        1000, ge=1, le=50_000, description="Commit when this many messages wait. Bigger: more throughput, more latency."
    )
    ingest_batch_max_age_ms: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Commit a partial batch after this long. Smaller: lower latency, more commits.",
    )
    ingest_max_unacked: int = Field(
        10_000,
        ge=10,
        description="Messages received but not yet committed and acknowledged. At the bound the ingestor stops "
        "reading from the broker (backpressure); memory use is about this times the payload size.",
    )
    ingest_writer: Literal["process", "inline"] = Field(
        "process",
        description="Parse and commit in a writer process of its own (uses a second core), or inline.",
    )
    ingest_retry_initial_s: float = Field(0.2, gt=0, description="First back-off after a failed commit.")
    ingest_retry_max_s: float = Field(10.0, gt=0, description="Back-off ceiling while the database is unavailable.")
    ingest_unknown_metric: Literal["accept", "quarantine"] = Field(
        "accept", description="A metric missing from the profile's catalogue: register it, or quarantine it."
    )
    ingest_max_payload_bytes: int = Field(
        64 * 1024, ge=256, description="Bigger payloads are quarantined unparsed (`too_large`): a bound on parse cost."
    )
    ingest_max_future_s: int = Field(300, ge=0, description="Readings stamped further ahead than this are refused.")
    quarantine_payload_bytes: int = Field(4096, ge=64, description="How much of a refused payload is kept.")
    ingest_metrics_port: int | None = Field(None, description="Serve the ingestor's Prometheus metrics here.")
    feedback_max_outstanding: int = Field(
        5_000, ge=10, description="Rejected-topic notices in flight; past it notices are counted and skipped."
    )
    feedback_warning_interval_s: float = Field(
        60.0,
        ge=0,
        description="Live warnings (an accepted message that is probably a mistake) are answered on the "
        "source's rejected topic at most this often per source: a misconfigured device does not flood it.",
    )
    feedback_time_skew_s: int = Field(
        3600, ge=1, description="A time stamp further than this from the receive time is accepted with a warning."
    )

    # --- Alarms ------------------------------------------------------------------
    alarm_clock_interval_s: float = Field(
        10.0,
        gt=0,
        le=3600,
        description="How often the ingestor evaluates time rules (silence, SLA, ticket counts) and sends webhooks. "
        "Shorter: alarms sooner, more queries.",
    )
    alarm_rules_refresh_s: float = Field(
        5.0, ge=0, le=600, description="How long an evaluator keeps rules and shelves before re-reading them."
    )
    alarm_webhooks: dict[Literal["critical", "major", "minor", "warning"], str] = Field(
        default_factory=dict,
        description='Webhook URL per severity, as JSON: {"critical": "http://gateway/alarms"}; rules may add their own.',
    )
    alarm_webhook_timeout_s: float = Field(5.0, gt=0, le=60, description="Time a webhook receiver has to answer.")
    alarm_webhook_max_attempts: int = Field(
        8, ge=1, le=100, description="Attempts before a webhook delivery is dead-lettered (kept, visible to admins)."
    )
    alarm_webhook_retry_initial_s: float = Field(2.0, gt=0, description="First retry delay; doubles each attempt.")
    alarm_webhook_retry_max_s: float = Field(300.0, gt=0, description="Longest retry delay.")

    # --- Web -------------------------------------------------------------------
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins allowed to call the API from a browser (CORS). Empty: closed, same origin only.",
    )
    api_cache_s: float = Field(
        2.0,
        ge=0,
        le=5,
        description="How long a web process keeps a GET answer of /api/v1 for the same URL and role (0: off). "
        "A change notice has the answers being read computed again at once (readers get the previous one meanwhile; "
        "live clients hear of the change once the new one is there); the API's own writes clear it. Time alone (a "
        "source turning stale) shows within this: an answer up to twice this old is served while it is computed again.",
    )
    api_cache_refresh_wait_s: float = Field(
        0.5,
        ge=0,
        le=10,
        description="The longest a change notice waits for the cached answers it staled to be computed again before "
        "live clients hear of it; those not computed by then are dropped (their next reader computes them). Longer: "
        "fewer clients wait on a slow database after a notice; shorter: clients hear of a change sooner.",
    )
    api_token_cache_s: float = Field(
        5.0,
        ge=0,
        le=60,
        description="How long a web process trusts a token it has looked up (0: look up every request). A token "
        "revoked through the API stops at once; one revoked with the CLI stops working within this.",
    )

    # --- The single window ----------------------------------------------------------
    dashboard_reread_gap_s: float = Field(
        0.5,
        ge=0,
        le=60,
        description="Shortest time between two re-reads of a panel's data however many change notices arrive. "
        "Shorter: fresher panels on a busy city; longer: fewer API reads per web process.",
    )
    dashboard_max_age_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="A panel's data older than this is read again without a notice: time alone moves some figures "
        "(a silent source turns stale, a ticket goes overdue). Shorter: those show sooner; longer: fewer reads.",
    )
    dashboard_slow_reread_gap_s: float = Field(
        15.0,
        ge=0,
        le=600,
        description="The same gap for the heavy panels (services over 24 h, 6-hour trends), whose figures move slowly.",
    )
    dashboard_slow_max_age_s: float = Field(
        120.0,
        gt=0,
        le=3600,
        description="The same age limit for the heavy panels (services over 24 h, 6-hour trends).",
    )

    # --- Map tiles (optional) -------------------------------------------------
    map_tile_url: str | None = Field(
        None,
        description="The single window's map tiles: an XYZ raster URL template, e.g. "
        "https://tile.example/{z}/{x}/{y}.png (the browser fetches them). Unset (the default): the map is drawn "
        "from the profile's outline with no tiles and needs no internet. Set: a tile map (MapLibre, from the full "
        "plotly.js bundle of the installed plotly package, served locally).",
    )
    map_tile_attribution: str = Field(
        "",
        description="Attribution shown on the tile map, as the tile provider asks (e.g. '© OpenStreetMap contributors').",
    )

    # --- Sign-in ----------------------------------------------------------------
    session_hours: float = Field(
        12.0,
        gt=0,
        le=24 * 90,
        description="How long a sign-in with a username and password lasts (one shift by default); "
        "API tokens do not expire.",
    )
    login_free_attempts: int = Field(
        5,
        ge=1,
        le=1000,
        description="Failed sign-ins of one username from one client before each further try waits "
        "(the wait doubles per failure); see app/auth/brake.py for the per-client and per-username allowances.",
    )
    login_lockout_s: float = Field(1.0, gt=0, le=3600, description="The first wait after the free attempts.")
    login_lockout_max_s: float = Field(
        900.0, gt=0, le=86_400, description="The longest wait between sign-in attempts after repeated failures."
    )

    # --- Operations: clear failures -------------------------------------------
    mqtt_unreachable_log_s: float = Field(
        60.0,
        gt=0,
        le=3600,
        description="While the broker cannot be reached the ingestor says so (host:port and why) at once and then "
        "every this many seconds, until it connects.",
    )
    database_connect_timeout_s: int = Field(
        10,
        ge=1,
        le=600,
        description="How long a PostgreSQL connection attempt may take before it fails (and the command says which "
        "database did not answer); a connect_timeout in the URL wins.",
    )

    # --- Web security ------------------------------------------------------------
    csrf_trusted_origins: list[str] = Field(
        default_factory=list,
        description="Origins besides the app's own (scheme://host[:port]) whose pages may send writes with the "
        'session cookie, as JSON: ["https://portal.example.go.id"]. A write carrying the cookie from any other '
        "origin is refused (403); bearer-token calls are not affected.",
    )
    frame_ancestors: list[str] = Field(
        default_factory=list,
        description="Pages allowed to embed the window in a frame (CSP frame-ancestors), as JSON: "
        '["https://portal.example.go.id"]. Empty (the default): nobody may frame it.',
    )
    max_body_bytes: int = Field(
        2**20,
        ge=1024,
        le=2**30,
        description="Largest request body the web process reads; a bigger one is refused with 413 before it is read. "
        "The dashboard's callbacks send a few KB.",
    )
    trusted_proxies: str = Field(
        "",
        description="Comma-separated addresses of reverse proxies whose X-Forwarded-For/-Proto headers are believed "
        "(uvicorn's forwarded_allow_ips), e.g. '10.0.0.5'. Empty (the default): none, the peer address is the client "
        "(the sign-in brake counts per client).",
    )
    token_cookie_days: float = Field(
        30.0,
        gt=0,
        le=400,
        description="How long the window keeps a token typed or passed as ?token= (a wall display) before asking again. "
        "Sign-ins with a password last `session_hours` instead.",
    )

    @field_validator("csrf_trusted_origins", "frame_ancestors")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        # They go into a security decision and a CSP header: only plain origins, nothing that could add a directive.
        for origin in v:
            u = urlsplit(origin)
            if (
                u.scheme not in ("http", "https")
                or not u.hostname
                or u.path not in ("", "/")
                or u.query
                or " " in origin
                or ";" in origin
            ):
                raise ValueError(f"{origin!r} is not an origin like https://portal.example.go.id")
        return [o.rstrip("/") for o in v]

    # --- Retention ------------------------------------------------------------
    retention_raw_days: int = Field(30, ge=1, description="Raw readings older than this are refused and pruned.")
    retention_rollup_days: int = Field(400, ge=1, description="Per-minute and per-hour rollups are kept this long.")
    retention_interval_s: int = Field(
        3600, ge=1, description="How often the ingestor prunes what is past retention (between batches)."
    )

    # --- Regional warnings (issue 12): `satupintu feeds`, alerts, CAP out ----------------------------------------
    bmkg_quake_urls: list[str] = Field(
        [
            "https://data.bmkg.go.id/DataMKG/TEWS/autogempa.json",
            "https://data.bmkg.go.id/DataMKG/TEWS/gempaterkini.json",
        ],
        description="BMKG earthquake JSON documents `satupintu feeds` polls (JSON list in the env var; [] for none).",
    )
    bmkg_nowcast_url: str | None = Field(
        "https://www.bmkg.go.id/alerts/nowcast/id/rss.xml",
        description="BMKG's nowcast RSS; each item's link is followed to its CAP 1.2 document. Empty: not polled.",
    )
    cap_feed_urls: list[str] = Field(
        [], description="Other CAP 1.2 sources: RSS or Atom lists of CAP documents, or single CAP documents."
    )
    feed_poll_s: float = Field(
        60, gt=0, description="How often each feed is polled (conditional requests: an unchanged feed costs a 304)."
    )
    feed_timeout_s: float = Field(10, gt=0, description="Connect and read timeout of one feed request.")
    feed_max_bytes: int = Field(
        2_000_000, ge=1024, description="A feed answer larger than this is refused (and the feed marked offline)."
    )
    feed_max_requests_per_min: int = Field(
        60, ge=1, description="At most this many requests a minute per host (BMKG's limit is 60)."
    )
    feed_backoff_max_s: float = Field(
        900, gt=0, description="After errors a feed waits twice as long each time, up to this long."
    )
    feed_heartbeat_s: float = Field(
        240,
        gt=0,
        description="A feed's unchanged health is published again this often (a feed source silent for two of "
        "its 300 s intervals shows stale). A change is published at once.",
    )
    feed_publisher: str = Field(
        "bmkg", pattern=r"^[a-z0-9_-]{1,64}$", description="The {sender} id the feeds process publishes alerts under."
    )
    alert_quake_hold_s: int = Field(
        3600,
        ge=60,
        description="An earthquake's warning alarm clears this long after the quake, unless a tsunami is possible.",
    )
    cap_out_public_severities: list[Literal["critical", "major", "minor", "warning"]] = Field(
        [],
        description="Alarms of these severities are in the CAP feed without a token (default none: a viewer token).",
    )

    # --- Citizen services (issue 14): Open311 and the public page ---------------
    open311_public_read: bool = Field(
        False,
        description="Whether GET /open311/v2/requests and tokens answer without an api_key (as the GeoReport v2 spec "
        "intends for citizens' apps). Off: any valid token is needed (a reporter token is enough). Discovery and the "
        "service list are always public. Personal data is never served by either.",
    )
    open311_personal_data_days: int = Field(
        365,
        ge=1,
        le=3650,
        description="How long an Open311 request's personal data (name, email, phone) is kept; the ingestor erases it "
        "on its retention turn (and `satupintu db prune`). The ticket itself stays.",
    )
    open311_publish_timeout_s: float = Field(
        5.0,
        gt=0,
        le=60,
        description="How long an Open311 POST waits for the broker to take its ticket event (connect and PUBACK) "
        "before it answers 503.",
    )
    public_page: bool = Field(
        False,
        description="Serve /publik: service performance for the public, with no sign-in (no personal data, no "
        "citizens' free text). Off by default.",
    )
    public_page_cache_s: float = Field(
        300.0, ge=1, le=86_400, description="How long /publik's figures are kept before they are computed again."
    )
    public_page_rate_per_min: int = Field(
        60,
        ge=1,
        le=100_000,
        description="Requests to /publik one client address may make per minute; past it the page answers 429.",
    )

    # --- Smart Province (issue 15) ---------------------------------------------
    bridge_queue_messages: int = Field(
        5_000_000,
        ge=1000,
        description="`satupintu bridge init`: QoS 1 messages the regency's broker holds per client while a link is "
        "down (the province bridge, the ingestor while it restarts); past it mosquitto drops them. About 200 bytes "
        "each in broker memory: 5,000,000 is about 1 GiB, some 14 hours of 100 messages a second.",
    )
    bridge_reconnect_max_s: int = Field(
        30,
        ge=1,
        le=3600,
        description="`satupintu bridge init`: longest wait of the regency broker between attempts to reach the "
        "province broker. Shorter: the queue starts draining sooner after a link comes back, at the cost of "
        "more connection attempts over a dead link.",
    )
    partition_ahead_days: int = Field(
        7,
        ge=1,
        le=366,
        description="PostgreSQL: the readings and minute-rollup partitions made ahead of today on the retention "
        "turn (the ingestor's, and `satupintu db prune`). A row outside every partition still lands, in the "
        "DEFAULT partition, and moves into its partition when that is made.",
    )

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, v: str) -> str:
        v = with_psycopg_driver(v)
        if not (v.startswith("sqlite") or v.startswith("postgresql")):
            raise ValueError("SATUPINTU_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        return v

    @field_validator("map_tile_url")
    @classmethod
    def _xyz_template(cls, v: str | None) -> str | None:
        if not v:
            return None
        if urlsplit(v).scheme not in ("http", "https") or not all(k in v for k in ("{z}", "{x}", "{y}")):
            raise ValueError("SATUPINTU_MAP_TILE_URL must be an http(s) URL with {z}, {x} and {y}")
        return v

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_scheme(cls, v: str) -> str:
        if urlsplit(v).scheme not in ("mqtt", "tcp"):
            raise ValueError("SATUPINTU_MQTT_URL must look like mqtt://[user:password@]host:port")
        return v

    @property
    def mqtt(self) -> MqttEndpoint:
        """The broker URL split into its parts."""
        u = urlsplit(self.mqtt_url)
        return MqttEndpoint(
            host=u.hostname or "127.0.0.1",
            port=u.port or 1883,
            username=unquote(u.username) if u.username else None,
            password=unquote(u.password) if u.password else None,
        )


class MqttEndpoint:
    """Where the broker is and how to log in."""

    __slots__ = ("host", "password", "port", "username")

    def __init__(self, host: str, port: int, username: str | None, password: str | None) -> None:
        self.host, self.port, self.username, self.password = host, port, username, password


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once; tests call `get_settings.cache_clear()` after changing env."""
    return Settings()
