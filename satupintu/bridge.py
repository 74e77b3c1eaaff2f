"""Store-and-forward from a regency to its province: the Mosquitto bridge configuration.

A regency's command center keeps its own broker, ingestor and database, so it
works while its island link is down. Its broker forwards the regency's own
inbound topics to the province broker over a Mosquitto bridge (QoS 1, a
persistent session on both ends), which queues what it cannot send and sends it
once the link is back. The province's ingestor stores each message once (a
redelivered message changes nothing: the ingest promise), so a resend after a
cut link cannot double anything. Mosquitto does the forwarding; this module only
writes its configuration.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

# What a regency forwards: what its integrators and feeds publish, never what
# the regency's own ingestor publishes (rejected, alarm, changes, catalogue,
# test-result): the province's ingestor answers for itself.
FORWARDED_KINDS = ("sensor", "service", "status", "alert")
BRIDGE_FILE = "bridge.conf"
_SAFE_VALUE = re.compile(r"^[^\s#]+$")


class BridgeError(ValueError):
    """The province URL or an option cannot make a bridge configuration."""


@dataclass(frozen=True, slots=True)
class Remote:
    """The province broker as the regency's bridge reaches it."""

    host: str
    port: int
    tls: bool
    username: str | None
    password: str | None


def parse_remote(url: str) -> Remote:
    """The parts of `mqtt[s]://[user:pass@]host[:port]`; a clear error for anything else."""
    u = urlsplit(url)
    if u.scheme not in ("mqtt", "mqtts"):
        raise BridgeError(f"the province URL must start with mqtt:// or mqtts://, not {u.scheme!r}")
    if not u.hostname:
        raise BridgeError("the province URL names no host (mqtt[s]://user:pass@host:port)")
    try:
        port = u.port
    except ValueError as exc:
        raise BridgeError(f"the province URL's port is not a number: {exc}") from exc
    if u.path not in ("", "/") or u.query or u.fragment:
        raise BridgeError("the province URL is mqtt[s]://user:pass@host:port, with no path or query")
    username = unquote(u.username) if u.username else None
    password = unquote(u.password) if u.password else None
    if password and not username:
        raise BridgeError("the province URL has a password but no user")
    for label, value in (("host", u.hostname), ("user", username), ("password", password)):
        if value is not None and not _SAFE_VALUE.match(value):
            # mosquitto.conf has no quoting: a space or '#' would end the value
            raise BridgeError(f"the {label} in the province URL may not contain spaces or '#'")
    tls = u.scheme == "mqtts"
    return Remote(u.hostname, port or (8883 if tls else 1883), tls, username, password)


@dataclass(frozen=True, slots=True)
class BridgeConfig:
    """Everything the bridge section needs; `render` turns it into mosquitto.conf lines."""

    remote: Remote
    cities: Sequence[str]
    queue_messages: int
    reconnect_max_s: int = 30
    name: str = ""
    cafile: Path | None = None
    local_username: str | None = None
    local_password: str | None = None

    @property
    def connection(self) -> str:
        return self.name or f"satupintu-{'-'.join(self.cities)}"

    def render(self) -> str:
        """The bridge section of mosquitto.conf (append it to, or include it from, the regency broker's config)."""
        if not self.cities:
            raise BridgeError("a bridge needs at least one city to forward")
        r = self.remote
        lines = [
            "# Written by `satupintu bridge init`: this regency's broker forwards its own topics to the province",
            "# (docs/province.md). Mosquitto reads bridges only at start: restart the broker after a change.",
            "",
            "# Held per client while a link is down (the province bridge, and the ingestor while it restarts);",
            "# past it mosquitto drops QoS 1 messages. SATUPINTU_BRIDGE_QUEUE_MESSAGES. Applies to every client.",
            f"max_queued_messages {self.queue_messages}",
            "max_queued_bytes 0",
            "",
            f"connection {self.connection}",
            f"address {r.host}:{r.port}",
            "bridge_protocol_version mqttv311",
            # One client id on the province broker, stable across restarts: its session (and the
            # messages it has not yet acknowledged) survive a cut link.
            f"remote_clientid {self.connection}",
            f"local_clientid {self.connection}-local",
            "cleansession false",
            "local_cleansession false",
            "start_type automatic",
            # mosquitto's decorrelated-jitter backoff between reconnect attempts: 1 s up to the cap
            f"restart_timeout 1 {self.reconnect_max_s}",
            "keepalive_interval 30",
            "notifications true",
            "notifications_local_only true",
        ]
        if r.username:
            lines.append(f"remote_username {r.username}")
        if r.password:
            lines.append(f"remote_password {r.password}")
        if self.local_username:
            lines.append(f"local_username {self.local_username}")
        if self.local_password:
            lines.append(f"local_password {self.local_password}")
        if r.tls:
            lines.append(f"bridge_cafile {self.cafile}" if self.cafile else "bridge_capath /etc/ssl/certs")
            lines.append("bridge_insecure false")
        for city in self.cities:
            lines.extend(f"topic city/{city}/{kind}/# out 1" for kind in FORWARDED_KINDS)
        return "\n".join(lines) + "\n"


def write_config(text: str, path: Path) -> Path:
    """Write the bridge section readable by its owner only (it holds the province password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.touch(mode=0o600)
    tmp.chmod(0o600)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path


def bridge_file(directory: Path) -> Path | None:
    """The bridge section `satupintu bridge init` wrote in directory, when there is one."""
    path = directory / BRIDGE_FILE
    return path if path.is_file() else None
