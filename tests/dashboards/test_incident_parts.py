"""The incidents page's pure parts: text from people stays text; an operator gets buttons, a viewer none."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from dash import dcc, html

from dashboards import ids
from dashboards.incident_parts import Labels, alarm_options, incident_rows, incident_view, log_text

TZ = ZoneInfo("Asia/Jayapura")
STEP = {
    "step": "lapor", "seq": 1, "text": "Laporkan ke <b>Pusdalops</b>", "agency": "bpbd", "mandatory": True,
    "within_min": 15, "due_at": "2026-12-06T01:15:00Z", "status": "open", "late": True, "escalated_at": None,
    "done_at": None, "done_by": None, "note": None,
}  # fmt: skip
INC = {
    "id": 7, "type": "banjir", "title": "<script>x</script>", "severity": "critical", "state": "responding",
    "district": "morotai-selatan", "owner": "Operator Sari", "opened_at": "2026-12-06T01:00:00Z",
    "steps_open_mandatory": 1, "steps_late": 1, "steps": [STEP], "links": [], "log": [],
}  # fmt: skip
LABELS = Labels({"morotai-selatan": "Morotai Selatan"}, {"bpbd": "BPBD"}, {"banjir": "Banjir"})


def _walk(c):
    yield c
    kids = getattr(c, "children", None)
    for k in kids if isinstance(kids, list) else [kids] if kids is not None else []:
        yield from _walk(k)


def test_an_operator_gets_done_and_skip_a_viewer_sees_the_same_without_them() -> None:
    op = list(_walk(incident_view(INC, True, "id", TZ, labels=LABELS)))
    buttons = [c.id for c in op if isinstance(c, html.Button)]
    assert {"type": ids.INC_STEP_DONE, "step": "lapor"} in buttons and {
        "type": ids.INC_STEP_SKIP,
        "step": "lapor",
    } in buttons
    assert any(isinstance(c, dcc.Input) for c in op)
    viewer = list(_walk(incident_view(INC, False, "id", TZ, labels=LABELS)))
    assert not any(isinstance(c, html.Button | dcc.Input) for c in viewer)
    assert any(getattr(c, "className", "") == "note inc-viewer-only" for c in viewer)
    late = [c for c in op if isinstance(c, html.Li) and "late" in (c.className or "")]
    assert late and late[0].id == "inc-step-lapor"


def test_text_from_people_is_text() -> None:
    view = list(_walk(incident_view(INC, True, "id", TZ, labels=LABELS)))
    assert "#7 <script>x</script>" in [c for c in view if isinstance(c, str)]  # a plain string child
    assert not any(isinstance(c, dcc.Markdown) for c in view)
    row = incident_rows([INC], 7, "id", TZ, labels=LABELS)[0]
    assert "selected" in row.className and "Morotai Selatan" in str(row.children)
    assert (
        log_text(
            {"by": None, "kind": "late", "text": None, "detail": {"step": "lapor", "escalated_to": ["Piket"]}},
            "id",
            {"lapor": "Laporkan"},
        )
        == "sistem (jam): Langkah terlambat: Laporkan; dieskalasi ke Piket"
    )


def test_situations_are_offered_before_the_alarms_and_a_level_2_escalation_reads_as_one() -> None:
    sit = {"id": "s-12", "severity": "critical", "title": "Hujan lebat Morotai Selatan", "alarm_count": 12}
    alarm = {"id": 40, "severity": "major", "message": "Curah hujan 60 mm/jam"}
    assert alarm_options([alarm], "id", [sit]) == [
        ("s-12", "Awas · Hujan lebat Morotai Selatan (12 alarm)"),
        (40, "#40 Siaga · Curah hujan 60 mm/jam"),
    ]
    assert alarm_options([alarm], "en") == [(40, "#40 major · Curah hujan 60 mm/jam")]
    late = {"by": None, "kind": "late", "detail": {"step": "lapor", "level": 2, "escalated_to": ["Kalak BPBD"]}}
    assert "tingkat 2" in log_text(late, "id", {"lapor": "Laporkan"}) and "Kalak BPBD" in log_text(late, "id", {})
