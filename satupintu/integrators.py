"""MQTT credentials and topic access for integrators: Mosquitto's password file and ACL file.

The scheme (documented for integrators in docs/mqtt.md, "Credentials and access"):

- Every integrator is one MQTT user. It is granted, per city, the agencies it
  may publish tickets for and the source ids it may publish readings and status
  for. Per grant the ACL gets:

      agency A:  topic write city/{city}/service/A
                 topic read  city/{city}/rejected/A
                 topic write city/{city}/test/service/A      (the sandbox: a dry run)
                 topic read  city/{city}/test-result/A
      source S:  topic write city/{city}/sensor/S
                 topic write city/{city}/status/S
                 topic read  city/{city}/rejected/S
                 topic write city/{city}/test/sensor/S
                 topic write city/{city}/test/status/S
                 topic read  city/{city}/test-result/S

  A source and an agency never share an id in one city (the grant is refused):
  they would read each other's refusals.

  Mosquitto ACL topics know only the MQTT wildcards, each a whole topic level,
  so a prefix such as `awlr-*` cannot be expressed: sources are listed one by
  one. The one wildcard allowed in a grant is `+` on its own ("every source" or
  "every agency" of that city), meant for a trusted gateway or the simulator.
- Every user may read what we publish to everyone: `city/+/alarm/#` and
  `city/+/changes` (two lines in each user's block; an ACL `pattern` without
  %u or %c would do the same but makes Mosquitto warn at every start).
- Platform users: `satupintu-ingest` (the ingestor and the API: reads
  everything integrators publish, also through `$share/...`, and writes
  `rejected`, `alarm` and `changes`) and `satupintu-viewer` (read-only:
  readings, tickets, status, alarms, changes; not other parties' refusals).
- Anonymous clients are refused (`allow_anonymous false`).

The ACL file is the record of the grants: it is parsed back, changed and
rewritten whole. Lines in a user's block that the scheme does not produce
(hand-written ones) are kept. Passwords are hashed by `mosquitto_passwd`; a
plain password is never written anywhere but a private temporary file that the
binary hashes in place, and is returned only when it was just set.

Mosquitto 2.0 enforces read access when it delivers, not when a client
subscribes: a subscription to someone else's topic is granted and stays
silent. A denied publish is dropped (MQTT 5 clients get PUBACK reason 0x87
"not authorized"). The broker reads both files at start and on SIGHUP.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from app.integrators.grants import GRANT_RE

DEFAULT_DIR = Path("data/mosquitto")
INGEST_USER = "satupintu-ingest"
VIEWER_USER = "satupintu-viewer"
PLATFORM_USERS = (INGEST_USER, VIEWER_USER)
ALL = "+"

ID_RE = re.compile(r"[a-z0-9_-]{1,64}")
HEADER = """\
# Mosquitto ACL for SatuPintu, written by `satupintu integrator`.
# The scheme is described in docs/mqtt.md ("Credentials and access") and in
# mosquitto/acl.example. Change grants with the command; lines it does not
# produce are kept in their user's block. Reload the broker (SIGHUP) after a change.
"""
EVERYONE_LINES = ("topic read city/+/alarm/#", "topic read city/+/changes", "topic read city/+/catalogue")
PLATFORM_LINES: dict[str, tuple[str, ...]] = {
    INGEST_USER: (
        # All of city/#: a topic that breaks the contract is quarantined as bad_topic, the sandbox is answered.
        "topic read city/#",
        "topic write city/+/rejected/#",
        "topic write city/+/alarm/#",
        "topic write city/+/changes",
        "topic write city/+/test-result/#",
        "topic write city/+/catalogue",
        # regional warnings (issue 12): `satupintu feeds` runs as the platform user: it publishes the alerts it
        # polls and each feed's health (feed-* sources; an ACL cannot name a prefix, so status/+ as a whole).
        "topic write city/+/alert/+",
        "topic write city/+/status/+",
        # citizen services (issue 14): the web process (with these credentials) publishes Open311 POSTs as ticket
        # events on the agency's topic, so they enter by the ingest path.
        "topic write city/+/service/#",
    ),
    VIEWER_USER: (
        "topic read city/+/sensor/#",
        "topic read city/+/service/#",
        "topic read city/+/status/#",
    ),
}
# Lines earlier versions produced, superseded by the ones above (dropped when an ACL is rewritten).
LEGACY_LINES = {
    INGEST_USER: ("topic read city/+/sensor/#", "topic read city/+/service/#", "topic read city/+/status/#")
}
PASSWD_HINT = (
    "mosquitto_passwd was not found; it hashes the passwords and comes with Mosquitto:\n"  # noqa: S105 - a hint
    "  sudo apt-get install -y mosquitto      (Debian/Ubuntu)\n"
    "  brew install mosquitto                 (macOS)"
)

Kind = Literal["agency", "source"]
_GRANT_RE = GRANT_RE  # the web process reads the same grants (app.integrators.grants)


class IntegratorError(ValueError):
    """A request the credential files cannot satisfy (bad name, missing binary, ...)."""


@dataclass(frozen=True, order=True)
class Grant:
    """Permission to publish for one agency or source (or `+`: all of them) of one city."""

    city: str
    kind: Kind
    id: str

    def lines(self) -> list[str]:
        base = f"city/{self.city}"
        if self.kind == "agency":
            return [
                f"topic write {base}/service/{self.id}",
                f"topic read {base}/rejected/{self.id}",
                f"topic write {base}/test/service/{self.id}",
                f"topic read {base}/test-result/{self.id}",
            ]
        return [
            f"topic write {base}/sensor/{self.id}",
            f"topic write {base}/status/{self.id}",
            f"topic read {base}/rejected/{self.id}",
            f"topic write {base}/test/sensor/{self.id}",
            f"topic write {base}/test/status/{self.id}",
            f"topic read {base}/test-result/{self.id}",
        ]


@dataclass
class UserBlock:
    """One `user NAME` section of the ACL: grants (integrators) plus lines kept as written."""

    name: str
    grants: set[Grant] = field(default_factory=set)
    extra: list[str] = field(default_factory=list)

    @property
    def platform(self) -> bool:
        return self.name in PLATFORM_LINES

    def lines(self) -> list[str]:
        out = list(PLATFORM_LINES.get(self.name, ()))
        for g in sorted(self.grants):
            out += g.lines()
        return list(dict.fromkeys(out + list(EVERYONE_LINES) + self.extra))  # in order, once each

    def describe(self) -> str:
        if self.platform:
            return "platform user"
        parts = []
        for city in sorted({g.city for g in self.grants}):
            agencies = [g.id for g in sorted(self.grants) if g.city == city and g.kind == "agency"]
            sources = [g.id for g in sorted(self.grants) if g.city == city and g.kind == "source"]
            parts.append(f"city {city}; agencies {' '.join(agencies) or '-'}; sources {' '.join(sources) or '-'}")
        return " | ".join(parts) or "no grants"


@dataclass
class Acl:
    """The whole ACL file: lines before the first user block (kept) and the user blocks."""

    preamble: list[str] = field(default_factory=list)
    users: dict[str, UserBlock] = field(default_factory=dict)


def check_id(value: str, what: str, *, wildcard: bool = False) -> str:
    if wildcard and value == ALL:
        return value
    if not ID_RE.fullmatch(value):
        extra = " (or + for all)" if wildcard else ""
        raise IntegratorError(f"{what} {value!r} is not a lowercase id [a-z0-9_-]{{1,64}}{extra}")
    return value


def parse_acl(text: str) -> Acl:
    """Read an ACL written by render_acl (or by hand) back into grants and kept lines."""
    acl = Acl()
    current: UserBlock | None = None
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line or line.startswith("#"):
            continue
        if line.startswith("user "):
            name = line[5:].strip()
            current = acl.users.setdefault(name, UserBlock(name))
            continue
        if current is None:
            if line not in acl.preamble:
                acl.preamble.append(line)
            continue
        m = _GRANT_RE.match(line)
        if m and not current.platform:
            city, what, ident = m.groups()
            current.grants.add(Grant(city, "agency" if what == "service" else "source", ident))
        elif line not in current.extra:
            current.extra.append(line)
    for block in acl.users.values():  # drop what the grants (re)produce, and what they used to; keep the rest
        produced = {*PLATFORM_LINES.get(block.name, ()), *EVERYONE_LINES, *LEGACY_LINES.get(block.name, ())}
        for g in block.grants:
            produced.update(g.lines())
        block.extra = [x for x in block.extra if x not in produced]
    return acl


def _ordered(acl: Acl) -> list[str]:
    """Platform users first, then integrators by name."""
    return [n for n in PLATFORM_USERS if n in acl.users] + sorted(n for n in acl.users if n not in PLATFORM_USERS)


def render_acl(acl: Acl) -> str:
    out = [HEADER]
    if acl.preamble:
        out += [*acl.preamble, ""]
    for name in _ordered(acl):
        block = acl.users[name]
        out.append(f"# {name}: {block.describe()}")
        out.append(f"user {name}")
        out += block.lines()
        out.append("")
    return "\n".join(out)


def _refuse_collisions(acl: Acl, city: str, grants: set[Grant], agencies: set[str], sources: set[str]) -> None:
    """A source and an agency with one id would share their feedback topics (`rejected/{id}`): refuse the grant."""
    for block in acl.users.values():
        for g in block.grants:
            if g.city == city:
                (agencies if g.kind == "agency" else sources).add(g.id)
    for g in sorted(grants):
        other, taken = ("a source", sources) if g.kind == "agency" else ("an agency", agencies)
        if g.id != ALL and g.id in taken:
            raise IntegratorError(
                f"{g.id!r} is already {other} id in {city}: a {g.kind} cannot have the same id, because both "
                f"would read city/{city}/rejected/{g.id} (docs/mqtt.md, 'Ids of sources and agencies')"
            )


def conf_lines(passwd: Path, acl: Path) -> list[str]:
    """The mosquitto.conf lines that switch authentication and the ACL on."""
    return ["allow_anonymous false", f"password_file {passwd.resolve()}", f"acl_file {acl.resolve()}"]


_PASSWD_PATHS = ("/usr/bin/mosquitto_passwd", "/usr/local/bin/mosquitto_passwd", "/opt/homebrew/bin/mosquitto_passwd")


def passwd_binary() -> str | None:
    return shutil.which("mosquitto_passwd") or next((p for p in _PASSWD_PATHS if Path(p).exists()), None)


def generate_password() -> str:
    """24 URL-safe characters (144 bits): fits in SATUPINTU_MQTT_URL without escaping."""
    return secrets.token_urlsafe(18)


def check_password(password: str) -> str:
    if len(password) < 8:
        raise IntegratorError("the password must be at least 8 characters")
    if ":" in password or any(c.isspace() or not c.isprintable() for c in password):
        # mosquitto_passwd cuts a password at ':'; whitespace breaks URLs and shells.
        raise IntegratorError("the password must not contain ':', spaces or control characters")
    return password


def _write_private(path: Path, text: str, mode: int) -> None:
    """Replace path atomically with text; keeps an existing file's mode, else uses `mode`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass
class AddResult:
    name: str
    created: bool
    password: str | None  # set only when it was just created or changed: show it once
    block: UserBlock


class CredentialStore:
    """The password file and ACL file of one deployment (default ./data/mosquitto/{passwd,acl})."""

    def __init__(self, directory: Path = DEFAULT_DIR, *, passwd: Path | None = None, acl: Path | None = None) -> None:
        self.passwd = passwd or directory / "passwd"
        self.acl = acl or directory / "acl"

    # --- reading --------------------------------------------------------------
    def read_acl(self) -> Acl:
        return parse_acl(self.acl.read_text(encoding="utf-8")) if self.acl.exists() else Acl()

    def users_with_password(self) -> set[str]:
        if not self.passwd.exists():
            return set()
        return {ln.split(":", 1)[0] for ln in self.passwd.read_text(encoding="utf-8").splitlines() if ":" in ln}

    def list(self) -> list[tuple[UserBlock, bool]]:
        """Every ACL user with whether it has a password."""
        acl, known = self.read_acl(), self.users_with_password()
        return [(acl.users[n], n in known) for n in _ordered(acl)]

    def conf_lines(self) -> list[str]:
        return conf_lines(self.passwd, self.acl)

    # --- changing -------------------------------------------------------------
    def add_integrator(
        self,
        name: str,
        *,
        city: str,
        agencies: Iterable[str] = (),
        sources: Iterable[str] = (),
        password: str | None = None,
        new_password: bool = False,
        replace: bool = False,
        known_agencies: Iterable[str] = (),
        known_sources: Iterable[str] = (),
    ) -> AddResult:
        """Create or update an integrator. Grants are added to its existing ones (replace=True: set exactly).

        An existing integrator keeps its password unless one is given or new_password is set. A source id
        equal to an agency id (granted to anyone in this city, or in `known_agencies` from the profile),
        or the reverse, is refused: both would read the same `rejected/{id}` and `test-result/{id}`.
        """
        check_id(name, "integrator name")
        if name in PLATFORM_USERS:
            raise IntegratorError(f"{name} is a platform user; use `satupintu integrator init`")
        check_id(city, "city")
        grants = {Grant(city, "agency", check_id(a, "agency", wildcard=True)) for a in agencies}
        grants |= {Grant(city, "source", check_id(s, "source id", wildcard=True)) for s in sources}
        if password is not None:
            check_password(password)
        acl = self.read_acl()
        _refuse_collisions(acl, city, grants, set(known_agencies), set(known_sources))
        self._ensure_platform_blocks(acl)
        exists = name in acl.users or name in self.users_with_password()
        block = acl.users.setdefault(name, UserBlock(name))
        if replace:
            block.grants = {g for g in block.grants if g.city != city}
        block.grants |= grants
        if not block.grants and not block.extra:
            raise IntegratorError("give at least one --agency or --source: without grants it can publish nothing")
        if password is None and (new_password or name not in self.users_with_password()):
            password = generate_password()
        if password is not None:
            self._set_password(name, password)
        _write_private(self.acl, render_acl(acl), 0o644)
        return AddResult(name=name, created=not exists, password=password, block=block)

    def init_platform(self, *, reset: bool = False) -> dict[str, str]:
        """Create the platform users (ingest, viewer) that lack a password; return {user: new password}."""
        acl = self.read_acl()
        self._ensure_platform_blocks(acl)
        known = self.users_with_password()
        created = {}
        for name in PLATFORM_USERS:
            if reset or name not in known:
                created[name] = generate_password()
                self._set_password(name, created[name])
        _write_private(self.acl, render_acl(acl), 0o644)
        return created

    def reset_password(self, name: str) -> str:
        """Give a platform user or an existing integrator a new generated password; return it (shown once)."""
        if name not in PLATFORM_USERS and name not in self.read_acl().users:
            raise IntegratorError(f"no user {name} in {self.acl}")
        password = generate_password()
        self._set_password(name, password)
        return password

    def remove(self, name: str) -> bool:
        """Delete a user's password and ACL block; False when there was neither."""
        if name in PLATFORM_USERS:
            raise IntegratorError(f"{name} is a platform user and cannot be removed")
        acl = self.read_acl()
        found = acl.users.pop(name, None) is not None
        if self.acl.exists():
            _write_private(self.acl, render_acl(acl), 0o644)
        if name in self.users_with_password():
            found = True
            kept = [ln for ln in self.passwd.read_text(encoding="utf-8").splitlines() if ln.split(":", 1)[0] != name]
            _write_private(self.passwd, "".join(f"{ln}\n" for ln in kept), 0o600)
        return found

    # --- internals ------------------------------------------------------------
    @staticmethod
    def _ensure_platform_blocks(acl: Acl) -> None:
        for name in PLATFORM_USERS:
            acl.users.setdefault(name, UserBlock(name))

    def _set_password(self, name: str, password: str) -> None:
        """Hash with `mosquitto_passwd -U` on a private temp file (keeps the password off the command line)."""
        binary = passwd_binary()
        if binary is None:
            raise IntegratorError(PASSWD_HINT)
        self.passwd.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.passwd.parent, prefix=".plain.")  # created 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(f"{name}:{password}\n")
            done = subprocess.run(  # noqa: S603 - argv list, no shell: the found binary and our temp file
                [binary, "-U", tmp], capture_output=True, text=True, timeout=30, check=False
            )
            hashed = Path(tmp).read_text(encoding="utf-8").strip()
            if done.returncode != 0 or not hashed.startswith(f"{name}:$"):
                raise IntegratorError(f"mosquitto_passwd failed ({done.returncode}): {done.stderr.strip()}")
        finally:
            Path(tmp).unlink(missing_ok=True)
        lines = self.passwd.read_text(encoding="utf-8").splitlines() if self.passwd.exists() else []
        lines = [ln for ln in lines if ln.split(":", 1)[0] != name] + [hashed]
        _write_private(self.passwd, "".join(f"{ln}\n" for ln in lines), 0o600)
