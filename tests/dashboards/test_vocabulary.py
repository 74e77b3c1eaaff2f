"""The operators' vocabulary (issue 17 part 7): the words a Bahasa Indonesia control room uses."""

from __future__ import annotations

import re

from app.i18n import CATALOGUES, t
from app.profile import SEVERITIES


def test_catalogues_hold_the_same_keys() -> None:
    assert set(CATALOGUES["id"]) == set(CATALOGUES["en"])


def test_severity_labels_are_the_disaster_agencies_levels_in_bahasa_and_english_keeps_its_terms() -> None:
    """BPBD's alert levels, highest first (Awas > Siaga > Waspada), and Perhatian below them."""
    assert [t(f"dash.sev.{s}", "id") for s in SEVERITIES] == ["Awas", "Siaga", "Waspada", "Perhatian"]
    assert [t(f"dash.sev.{s}", "en") for s in SEVERITIES] == ["critical", "major", "minor", "warning"]


def test_acknowledge_is_tanggapi_everywhere() -> None:
    """One verb for acknowledge: buttons, dialog, history and messages all say tanggapi, none says akui."""
    id_ = CATALOGUES["id"]
    assert not [k for k, v in id_.items() if re.search(r"akui", v, re.IGNORECASE)]
    assert id_["dash.alarm.ack"] == id_["dash.alarm.send"] == "Tanggapi"
    assert id_["dash.alarm.ack_title"].startswith("Tanggapi")
    for key in ("dash.alarm.state.acknowledged", "dash.alarm.acked_by", "dash.alarm.ack_ok"):
        assert "ditanggapi" in id_[key], key
    assert "menanggapi" in id_["dash.alarm.viewer_only"] and "menanggapi" in id_["dash.alarm.ack_failed"]


def test_live_and_the_two_environment_pillars_read_distinctly() -> None:
    id_ = CATALOGUES["id"]
    assert not [k for k, v in id_.items() if re.search(r"\blangsung\b", v, re.IGNORECASE)]
    living, environment = id_["dash.pillar.living"], id_["dash.pillar.environment"]
    assert living.split()[0] != environment.split()[0]
    assert "lingkungan" not in living.lower()
