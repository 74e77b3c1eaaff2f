"""Error bodies: 422s carry FastAPI's documented fields (loc, msg, type) and readable ones (where, problem)."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status


def problem(where: str, message: str, kind: str = "value_error") -> dict[str, Any]:
    """One entry of a 422 `detail` list; `where` is dotted, e.g. `query.start`."""
    return {"loc": where.split("."), "msg": message, "type": kind, "where": where, "problem": message}


def unprocessable(where: str, message: str) -> HTTPException:
    """A 422 for a request whose parameters are well-formed but do not make sense together."""
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=[problem(where, message)])
