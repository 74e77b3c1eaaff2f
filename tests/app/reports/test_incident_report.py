"""The after-action report and the regent's incident summary: printable pages, both databases, text escaped."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.i18n import t
from app.storage.models import AlarmEventRow
from tests.app.alarms.evaluation import NOW, level
from tests.app.conftest import auth
from tests.app.incidents.test_routes import ticket


def test_the_report_shows_the_steps_timeline_and_readings_and_the_summary_counts(
    client: TestClient, tokens, writer
) -> None:
    op, viewer = auth(tokens["operator"]), auth(tokens["viewer"])
    level(writer, 150, NOW - 20 * 60_000)
    level(writer, 262, NOW - 60_000)
    alarm = client.get("/api/v1/alarms?state=open", headers=viewer).json()["items"][0]
    inc = client.post(
        "/api/v1/incidents",
        json={"title": "Banjir <script>alert(1)</script>", "severity": "critical", "alarm_ids": [alarm["id"]]},
        headers=op,
    ).json()
    iid = inc["id"]
    client.post(
        f"/api/v1/incidents/{iid}/steps/verifikasi", json={"action": "done", "note": "cek <b>AWLR</b>"}, headers=op
    )
    ticket(writer, "112-2026-000900")
    client.post(f"/api/v1/incidents/{iid}/links", json={"ticket_ids": ["112-2026-000900"]}, headers=op)

    r = client.get(f"/api/v1/reports/incidents/{iid}", headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>AWLR</b>" not in page and "cek &lt;b&gt;AWLR&lt;/b&gt;" in page
    assert "Laporan pasca-kejadian" in page and "Kronologi" in page and "Langkah SOP" in page
    assert "Alarm muncul (Awas, nilai 262)" in page  # the linked alarm's history in the timeline
    assert "Langkah selesai: Verifikasi data AWLR" in page
    assert "Tiket 112-2026-000900" in page and "Ditautkan: Alarm #" in page
    assert "<polyline" in page and "awlr-sungai-pilowo" in page  # the linked source's readings around it
    assert "Banjir" in page and "Morotai Selatan" in page
    en = client.get(f"/api/v1/reports/incidents/{iid}?lang=en", headers=viewer).text
    assert "After-action report" in en and "Timeline" in en and "Flood" in en
    assert client.get("/api/v1/reports/incidents/999999", headers=viewer).status_code == 404

    summary = client.get("/api/v1/reports/incidents", headers=viewer)
    assert summary.status_code == 200
    assert "Ringkasan Insiden" in summary.text and "Banjir" in summary.text and "Morotai Selatan" in summary.text


@pytest.mark.parametrize("lang", ["id", "en"])
def test_every_kind_of_alarm_event_has_words_in_the_timeline(lang: str) -> None:
    doc = AlarmEventRow.__table__.c.action.doc or ""
    actions = {a.strip() for a in doc.split(",")} | {"paged"}  # paged: the rota escalation of alarm management
    for action in sorted(actions):
        assert t(f"inc.alarm.{action}", lang, severity="Awas", value="2")
