"""The audit log: one row for every write, by whom."""

from __future__ import annotations

import time

from sqlalchemy import Connection

from app.storage.models import AuditRow


def record(
    *, conn: Connection, actor: str, role: str | None, action: str, target: str | None = None, detail: str | None = None
) -> None:
    """Add an audit row in the caller's transaction (so it exists exactly when the write does)."""
    conn.execute(
        AuditRow.__table__.insert().values(
            ts_ms=int(time.time() * 1000),
            actor=actor[:100],
            role=role,
            action=action[:64],
            target=target[:200] if target else None,
            detail=detail,
        )
    )
