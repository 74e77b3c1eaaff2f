"""Which sources and agencies each integrator (MQTT user) may publish for, read from the broker's ACL file.

`satupintu integrator` writes the file (satupintu/integrators.py, which parses
it with the same GRANT_RE); the web process only reads it.
"""

from __future__ import annotations

import re
from pathlib import Path

# `topic write city/{city}/{sensor|service}/{id or +}`: one grant of the user block it sits in.
GRANT_RE = re.compile(r"^topic write city/([a-z0-9_-]{1,64})/(sensor|service)/([a-z0-9_-]{1,64}|\+)$")

Grant = tuple[str, str, str]  # (city, "source" | "agency", id or "+")


def grants_by_user(text: str) -> dict[str, set[Grant]]:
    """user -> its grants, from the text of an ACL file (lines of other kinds are ignored)."""
    out: dict[str, set[Grant]] = {}
    user: str | None = None
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if line.startswith("user "):
            user = line[5:].strip()
            out.setdefault(user, set())
            continue
        m = GRANT_RE.match(line)
        if m and user is not None:
            city, what, ident = m.groups()
            out[user].add((city, "agency" if what == "service" else "source", ident))
    return {u: g for u, g in out.items() if g}


def read_grants(auth_dir: str) -> dict[str, set[Grant]]:
    """The grants of every integrator in `auth_dir/acl`; none when there is no ACL (an open demo broker)."""
    path = Path(auth_dir) / "acl"
    try:
        return grants_by_user(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return {}
