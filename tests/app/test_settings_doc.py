"""docs/settings.md lists every setting with its default and meaning, as app/settings.py declares them."""

from __future__ import annotations

import runpy
from pathlib import Path

from app.settings import Settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_the_settings_page_is_current() -> None:
    script = runpy.run_path(str(DOC.parents[1] / "scripts" / "settings_doc.py"))
    assert DOC.read_text(encoding="utf-8") == script["render"](), "run scripts/settings_doc.py"


def test_every_setting_has_a_row_with_a_meaning() -> None:
    rows = {
        line.split("|")[1].strip(" `"): line
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `SATUPINTU_")
    }
    assert set(rows) == {f"SATUPINTU_{name.upper()}" for name in Settings.model_fields}
    assert all(line.rstrip(" |").split("|")[-1].strip() for line in rows.values())
