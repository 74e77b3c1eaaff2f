"""Open311 GeoReport v2 at `/open311/v2/`: discovery, services, requests (GET and POST), tokens.

The format is the path's suffix (`.xml`, required by the spec, or `.json`);
errors answer in the spec's own list (`[{"code": 400, "description": ...}]`)
in that format. A POST goes the way every event goes: its ticket event is
published on the agency's service topic (QoS 1, app.open311.publisher) and the
ingestor stores it; the POST answers a `token`, and `GET tokens/{token}` answers
the `service_request_id` once the ticket is stored. The request's personal data
(name, email, phone) never travels on MQTT: it is kept apart
(app.open311.store), read only by an admin scoped to the request's agency (app.auth.scope) through
`GET /api/v1/open311/requests/{ticket_id}/personal`, and erased after
`open311_personal_data_days`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import parse_qsl

import orjson
from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Engine

from app.auth.audit import record
from app.auth.deps import AdminDep
from app.auth.lookup import TOKEN_COOKIE
from app.auth.scope import personal_data_refusal
from app.auth.tokens import Principal
from app.http.deps import ConnDep, ProfileDep
from app.http.timefmt import from_ms
from app.open311 import service as svc, store
from app.open311.formats import Format, Open311Error, answer
from app.open311.publisher import Publisher, Unreachable
from app.profile import Deployment, Profile
from app.tickets.routes import TICKET_ID_PATTERN

router = APIRouter(prefix="/open311/v2", tags=["open311"])
personal_router = APIRouter(prefix="/api/v1", tags=["open311"])

CHANGESET = datetime.now(tz=UTC).isoformat(timespec="seconds")  # discovery's: when this process started serving
MAX_SPAN = timedelta(days=90)  # the spec's default and largest range of GET requests
MAX_RESULTS = 1000
FORM = "application/x-www-form-urlencoded"
_FMT = Annotated[str, Path(description="xml or json")]


def _fmt(raw: str) -> Format:
    if raw == "xml":
        return "xml"
    if raw == "json":
        return "json"
    raise Open311Error(404, f"no format {raw[:16]!r}: ask for .xml or .json", "json")


def _jurisdiction(request: Request, fmt: Format, given: str | None = None, *, required: bool = True) -> Profile:
    """The city a GeoReport v2 call is about: its `jurisdiction_id` (a city id, GET /api/v1/cities).

    The spec's parameter for an endpoint that serves several jurisdictions, as a deployment of several cities does
    (Smart Province): there it is required (400 without it, except for discovery, which is the home city's by
    default); a one-city deployment needs none, as before. `given` is a POST form's, which the query's overrides.
    """
    deployment: Deployment = request.app.state.deployment
    j = request.query_params.get("jurisdiction_id") or given
    if j is None:
        if deployment.multi and required:
            raise Open311Error(
                400, f"jurisdiction_id is required: this endpoint serves {', '.join(deployment.ids)}", fmt
            )
        return deployment.home
    profile = deployment.get(j)
    if profile is None:
        raise Open311Error(
            404, f"jurisdiction_id {j[:64]!r} not found (this endpoint serves {', '.join(deployment.ids)})", fmt
        )
    return profile


def _may_see(who: Principal | None, profile: Profile, fmt: Format) -> None:
    """A token scoped to another city is refused here as on every route (a key of every city may read each)."""
    if who is not None and not who.serves(profile.city.id):
        raise Open311Error(403, f"this api_key is for jurisdiction {who.city!r}, not {profile.city.id!r}", fmt)


async def _caller(request: Request, api_key: str | None, fmt: Format) -> Principal | None:
    """The token behind `api_key` (or the Authorization header, or the window's cookie); None when none is given."""
    auth = request.headers.get("authorization", "")
    key = api_key or (auth[7:].strip() if auth.lower().startswith("bearer ") else request.cookies.get(TOKEN_COOKIE))
    if not key:
        return None
    who: Principal | None = await request.app.state.token_cache.alookup(request.app.state.engine, key)
    if who is None:
        raise Open311Error(403, "invalid api_key", fmt)
    return who


async def _reader(request: Request, profile: Profile, fmt: Format) -> None:
    """GET requests and tokens: public when `open311_public_read` is on, else any valid token (a reporter's too)."""
    who = await _caller(request, request.query_params.get("api_key"), fmt)
    if who is None and not request.app.state.settings.open311_public_read:
        raise Open311Error(401, "an api_key is required to read requests on this server", fmt)
    _may_see(who, profile, fmt)


def _publisher(request: Request) -> Publisher:
    pub = getattr(request.app.state, "open311_publisher", None)
    if pub is None:
        pub = request.app.state.open311_publisher = Publisher(request.app.state.settings)
    return pub


def close_publisher(app: Any) -> None:
    """Disconnect the web process's Open311 publisher, if it was ever opened (app shutdown)."""
    pub = getattr(app.state, "open311_publisher", None)
    if pub is not None:
        pub.close()


@router.get("/discovery.{fmt}", summary="Service discovery: where the GeoReport v2 endpoint is and what it speaks")
def discovery(request: Request, fmt: _FMT) -> Response:
    f = _fmt(fmt)
    profile = _jurisdiction(request, f, required=False)
    base = str(request.base_url).rstrip("/")
    return answer(
        f,
        "discovery",
        {
            "changeset": CHANGESET,
            "contact": profile.open311.contact,
            "key_service": profile.open311.key_service,
            "endpoints": [
                {
                    "specification": svc.SPEC,
                    "url": f"{base}/open311/v2",
                    "changeset": CHANGESET,
                    "type": "production",
                    "formats": ["text/xml", "application/json"],
                }
            ],
        },
    )


@router.get("/services.{fmt}", summary="The services a citizen may report to (from the city profile)")
def services(request: Request, fmt: _FMT) -> Response:
    f = _fmt(fmt)
    profile = _jurisdiction(request, f)
    return answer(f, "services", [svc.service_record(s, profile) for s in svc.open_services(profile)])


@router.get("/services/{code}.{fmt}", summary="A service's definition: the attributes a request may carry")
def service_definition(request: Request, code: str, fmt: _FMT) -> Response:
    f = _fmt(fmt)
    profile = _jurisdiction(request, f)
    s = next((s for s in svc.open_services(profile) if s.id == code), None)
    if s is None:
        raise Open311Error(404, f"service_code {code[:64]!r} not found", f)
    return answer(f, "service_definition", svc.service_definition(s, profile))


def _date(request: Request, name: str, fmt: Format) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        dt = None
    if dt is None or dt.tzinfo is None:
        raise Open311Error(400, f"{name} must be an ISO 8601 time with its offset, e.g. 2026-11-22T08:00:00+09:00", fmt)
    return dt


def _list(request: Request, name: str) -> tuple[str, ...]:
    raw = request.query_params.getlist(name)
    return tuple(dict.fromkeys(p.strip() for r in raw for p in r.split(",") if p.strip()))


@router.get("/requests.{fmt}", summary="Service requests: by id, or by service, time and status (90 days at most)")
async def list_requests(request: Request, fmt: _FMT) -> Response:
    f = _fmt(fmt)
    profile = _jurisdiction(request, f)
    await _reader(request, profile, f)
    end = _date(request, "end_date", f) or datetime.now(tz=UTC)
    start = _date(request, "start_date", f) or end - MAX_SPAN
    if start >= end:
        raise Open311Error(400, "start_date must be before end_date", f)
    if end - start > MAX_SPAN:
        raise Open311Error(400, "start_date and end_date may span 90 days at most", f)
    words = _list(request, "status")
    if any(w not in ("open", "closed") for w in words):
        raise Open311Error(400, "status is open, closed or both (comma-separated)", f)
    filt = store.RequestFilter(
        city=profile.city.id,
        start_ms=int(start.timestamp() * 1000),
        end_ms=int(end.timestamp() * 1000),
        ids=_list(request, "service_request_id"),
        codes=_list(request, "service_code"),
        statuses=store.our_statuses(words),
        hidden_agencies=tuple(profile.open311.hidden_agencies),
    )
    rows = await run_in_threadpool(_read_requests, request.app.state.engine, filt)
    return answer(f, "service_requests", [svc.request_record(r, profile) for r in rows])


def _read_requests(engine: Engine, filt: store.RequestFilter) -> list[Any]:
    with engine.connect() as conn:
        return store.list_requests(conn=conn, f=filt, limit=MAX_RESULTS)


@router.get("/requests/{request_id}.{fmt}", summary="One service request")
async def get_request(request: Request, request_id: str, fmt: _FMT) -> Response:
    f = _fmt(fmt)
    profile = _jurisdiction(request, f)
    await _reader(request, profile, f)
    filt = store.RequestFilter(
        city=profile.city.id,
        start_ms=0,
        end_ms=0,
        ids=(request_id,),
        hidden_agencies=tuple(profile.open311.hidden_agencies),
    )
    rows = await run_in_threadpool(_read_requests, request.app.state.engine, filt)
    if not rows:
        raise Open311Error(404, f"service_request_id {request_id[:64]!r} not found", f)
    return answer(f, "service_requests", [svc.request_record(rows[0], profile)])


@router.get("/tokens/{token}.{fmt}", summary="The service_request_id a POST's token became, once it is stored")
async def get_token(request: Request, token: str, fmt: _FMT) -> Response:
    f = _fmt(fmt)
    profile = _jurisdiction(request, f)
    await _reader(request, profile, f)

    def read() -> tuple[str, bool] | None:
        with request.app.state.engine.connect() as conn:
            return store.token_ticket(conn=conn, city=profile.city.id, token=token)

    found = await run_in_threadpool(read)
    if found is None:
        raise Open311Error(404, f"token {token[:64]!r} not found", f)
    ticket_id, stored = found
    # While the ingestor has not stored it yet, the token alone: the app asks again.
    record_ = {"service_request_id": ticket_id, "token": token} if stored else {"token": token}
    return answer(f, "service_requests", [record_])


@router.post("/requests.{fmt}", summary="Create a service request (api_key of a reporter token); answers a token")
async def post_request(request: Request, fmt: _FMT) -> Response:
    f = _fmt(fmt)
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != FORM:
        raise Open311Error(415, f"send the request as {FORM} (the spec's POST)", f)
    try:
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    except UnicodeDecodeError:
        raise Open311Error(400, "the request body is not UTF-8", f) from None
    profile = _jurisdiction(request, f, form.get("jurisdiction_id"))
    who = await _caller(request, form.get("api_key"), f)
    if who is None:
        raise Open311Error(403, "an api_key is required to create a request", f)
    if who.role != "reporter" and not who.may("operator"):
        raise Open311Error(403, f"this api_key ({who.role}) may not create requests: ask for a reporter key", f)
    _may_see(who, profile, f)
    if who.read_only(multi=request.app.state.deployment.multi):
        raise Open311Error(403, "a province-wide api_key reads every jurisdiction but creates requests in none", f)
    new = svc.check_post(form, profile, datetime.now(tz=UTC), f)
    kept = {**new.kept, "api_token_id": who.token_id}
    await run_in_threadpool(_create, request.app.state.engine, _publisher(request), new, kept, f)
    return answer(f, "service_requests", [{"token": new.token, "service_notice": new.notice, "account_id": None}], 201)


def _create(engine: Engine, pub: Publisher, new: svc.NewRequest, kept: dict[str, Any], fmt: Format) -> None:
    # Kept first, so the token resolves as soon as the ingestor stores the ticket; forgotten if the broker refuses.
    with engine.begin() as conn:
        store.add_request(conn=conn, row=kept)
    try:
        pub.publish(new.topic, orjson.dumps(new.event))
    except Unreachable as exc:
        with engine.begin() as conn:
            store.drop_request(conn=conn, token=new.token)
        raise Open311Error(503, f"the request could not be passed on, try again later ({exc})", fmt) from exc


class PersonalData(BaseModel):
    """A citizen's own data for an Open311 request: for the agency's admin, never on the wall or in Open311."""

    ticket_id: str
    agency: str
    received_at: datetime
    erased_at: datetime | None
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None


@personal_router.get(
    "/open311/requests/{ticket_id}/personal",
    response_model=PersonalData,
    summary="The personal data of an Open311 request (an admin of its agency; each read and refusal is audited)",
    responses={403: {"description": "Not an admin scoped to the request's agency (the detail says why)"}},
)
def personal_data(
    who: AdminDep,
    conn: ConnDep,
    profile: ProfileDep,
    ticket_id: Annotated[str, Path(pattern=TICKET_ID_PATTERN)],
) -> PersonalData:
    with conn.begin():
        row = store.personal_data(conn=conn, city=profile.city.id, ticket_id=ticket_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no Open311 request {ticket_id!r}")
        # Only an admin of the request's agency reads it (app.auth.scope); reads and refusals alike are audited,
        # with the request's agency and the caller's scope.
        refusal = personal_data_refusal(who, row["agency"])
        record(
            conn=conn,
            actor=who.name,
            role=who.role,
            action="open311.personal.refused" if refusal else "open311.personal.read",
            target=ticket_id,
            detail=f"agency {row['agency']}; caller's scope {who.agency or 'city-wide'}",
        )
    if refusal:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=refusal)
    return PersonalData(
        **{k: row[k] for k in ("ticket_id", "agency", *store.PERSONAL)},
        received_at=from_ms(row["created_ms"]),
        erased_at=from_ms(row["erased_ms"]) if row["erased_ms"] is not None else None,
    )
