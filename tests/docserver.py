"""A local HTTP server of documents by path (the stand-in for BMKG and CAP feeds in tests and bench/warnings.py).

Each document gets an ETag; a request that sends it back gets a 304. Counts the requests per path and the 304s.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class DocServer:
    """Serves `docs` ({path: bytes}; change it at any time) on a free loopback port until `close()`."""

    def __init__(self) -> None:
        self.docs: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.not_modified = 0
        self.unannounced: set[str] = set()  # paths answered without a Content-Length (the body ends at close)
        self.served_at: dict[str, float] = {}  # path -> when a whole body was last sent (time.time())
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits[self.path] = site.hits.get(self.path, 0) + 1
                body = site.docs.get(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                etag = f'"{hash(body) & 0xFFFFFFFF:x}"'
                if self.headers.get("If-None-Match") == etag:
                    site.not_modified += 1
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("ETag", etag)
                if self.path not in site.unannounced:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                site.served_at[self.path] = time.time()

            def log_message(self, *_a: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
