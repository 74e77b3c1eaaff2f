"""The real API app plus two trivial routes, for bench/api.py (served by uvicorn, 1 worker, as shipped).

    python -m uvicorn --app-dir . bench._api_app:app --port P   (SATUPINTU_DATABASE_URL set)

`/bench/trivial` (async) is the cheapest FastAPI route: the baseline the read
routes are compared with. `/bench/trivial-sync` is the same as a plain `def`,
run in the threadpool as every SatuPintu route is: the difference between the
two is what the threadpool hop costs.
"""

from __future__ import annotations

from satupintu.web import create_app

app = create_app(migrate=False)


@app.get("/bench/trivial", include_in_schema=False)
async def trivial() -> dict[str, bool]:
    return {"ok": True}


@app.get("/bench/trivial-sync", include_in_schema=False)
def trivial_sync() -> dict[str, bool]:
    return {"ok": True}
