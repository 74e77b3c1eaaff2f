"""What a first load of the operator window transfers, without and with gzip, and which files browsers may keep.

In-process (no server to start): the page, every script and stylesheet it
names, the plotly.js bundle live.js loads and the first layout, each fetched
as a browser would, counting the bytes on the wire. Run:
`.venv/bin/python bench/transfer.py`.
"""

from __future__ import annotations

import re
import tempfile

from fastapi.testclient import TestClient

from app.api.main import create_app
from app.auth.tokens import create_token
from app.settings import Settings


def main() -> None:
    settings = Settings(database_url=f"sqlite:///{tempfile.mkdtemp()}/bench.db", mqtt_url="mqtt://127.0.0.1:1")
    with TestClient(create_app(settings)) as c:
        with c.app.state.engine.begin() as conn:
            c.cookies.set("satupintu_token", create_token(conn=conn, name="bench", role="viewer"))
        page = c.get("/").text
        urls = ["/", *re.findall(r'(?:src|href)="(/[^"]+)"', page)]
        urls += [page.split('name="sp-plotly" content="')[1].split('"')[0], "/_dash-layout"]
        kept = 0
        for enc in ("identity", "gzip"):
            total = 0
            for u in urls:
                with c.stream("GET", u, headers={"Accept-Encoding": enc, "Referer": "http://testserver/"}) as r:
                    total += sum(len(b) for b in r.iter_raw())
                    kept += enc == "gzip" and "max-age=31536000" in r.headers.get("cache-control", "")
            print(f"{enc:>8}: {len(urls)} requests, {total / 1e6:.2f} MB on the wire")
        print(f"kept a year by the browser: {kept} of {len(urls)}")


if __name__ == "__main__":
    main()
