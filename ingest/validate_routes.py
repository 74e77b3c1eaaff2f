"""`POST /api/v1/validate?topic=`: the dry run over HTTP, for integrators (any token, `integrator` role up).

It lives in ingest because the parser does (there is one parser); the
composition root adds it to the API app (`mount`, an entry point of the
`satupintu.web` group, like the dashboard), so `app` never imports ingest.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import Connection, select

from app.auth.deps import IntegratorDep
from app.http.deps import ConnDep
from app.storage.models import SourceRow
from ingest.parser import ParseRules
from ingest.validate import check

router = APIRouter(prefix="/api/v1", tags=["integrators"])


class Problem(BaseModel):
    reason: str = Field(description="A quarantine reason code (docs/mqtt.md) or a warning code")
    detail: str = Field(description="What is wrong, in English")
    detail_id: str = Field(description="The same in Bahasa Indonesia")
    path: str | None = Field(None, description="JSONPath of the offending field, when one is at fault")
    nearest: list[str] | None = Field(None, description="Warnings: the nearest known names")


class ValidateOut(BaseModel):
    ok: bool = Field(description="True when the ingestor would store it (maybe only part: see errors)")
    topic: str
    kind: str | None = Field(description="reading, senml, ngsi, ticket or status; null when unknown")
    errors: list[Problem] = Field(description="Every fault found, not only the first")
    warnings: list[Problem] = Field(description="Accepted, but probably a mistake")
    would_store: list[dict[str, Any]] = Field(description="What would be stored: points, a ticket event, a status")
    received_at: str


def source_known(*, conn: Connection, city: str, source_id: str) -> bool:
    """Whether the deployment has seen (or registered) this source already."""
    q = select(SourceRow.id).where(SourceRow.city == city, SourceRow.source_id == source_id).limit(1)
    return conn.execute(q).first() is not None


def _rules(request: Request) -> ParseRules:
    state = request.app.state
    rules = getattr(state, "dry_run_rules", None)
    if rules is None:
        deployment = getattr(state, "deployment", None)  # every city of the deployment (issue 15), when set
        rules = state.dry_run_rules = (
            ParseRules.from_deployment(deployment, state.settings)
            if deployment is not None
            else ParseRules.from_profile(state.profile, state.settings)
        )
    return rules


async def _body(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                detail=f"the payload is over {limit} bytes: the ingestor would refuse it as too_large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/validate",
    response_model=ValidateOut,
    summary="Dry run: what the ingestor would do with this payload on this topic (nothing is stored)",
    openapi_extra={"requestBody": {"content": {"application/json": {}, "text/plain": {}}, "required": True}},
)
async def validate(
    request: Request,
    who: IntegratorDep,
    conn: ConnDep,
    topic: Annotated[str, Query(max_length=512, description="The topic, e.g. city/morotai/sensor/awlr-x")],
) -> dict[str, Any]:
    """The raw payload is the body (any content type): JSON reading, SenML, NGSI, ticket event, Open311, status."""
    parts = topic.split("/", 2)
    if len(parts) > 1 and parts[0] == "city" and not who.serves(parts[1]):  # Smart Province: not another city's
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"this token is for city {who.city!r}, not {parts[1]!r}")
    rules = _rules(request)
    payload = await _body(request, rules.max_payload_bytes)
    return check(
        topic,
        payload,
        rules,
        known_source=lambda city, source_id: source_known(conn=conn, city=city, source_id=source_id),
    )


def mount(api: FastAPI) -> None:
    """Add the dry-run route to the API app (composed in satupintu.web)."""
    api.include_router(router)
