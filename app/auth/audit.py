"""The audit log: one row for every write, by whom."""

from __future__ import annotations

import re
import time

from sqlalchemy import Connection

from app.storage.models import AuditRow

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _visible(text: str) -> str:
    """Text from outside (a username typed at sign-in) with its control characters written out as `\\xNN`:
    kept readable in the log, and PostgreSQL refuses a NUL byte in any text."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def record(
    *,
    conn: Connection,
    actor: str,
    role: str | None,
    action: str,
    target: str | None = None,
    detail: str | None = None,
    ts_ms: int | None = None,
) -> None:
    """Add an audit row in the caller's transaction (so it exists exactly when the write does); `ts_ms`: the
    instant of a step the system takes on its own clock (alarm management), else now."""
    conn.execute(
        AuditRow.__table__.insert().values(
            ts_ms=int(time.time() * 1000) if ts_ms is None else ts_ms,
            actor=_visible(actor)[:100],
            role=role,
            action=action[:64],
            target=_visible(target)[:200] if target else None,
            detail=_visible(detail) if detail else None,
        )
    )
