"""`satupintu check`: exit 0 on the docs' examples, 1 on the bad-payload vectors; the same answer as the API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from satupintu.cli import cli
from tests.conftest import satupintu_env

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "payloads"
INDEX = json.loads((EXAMPLES / "index.json").read_text())
BAD = json.loads((REPO / "tests" / "ingest" / "bad_payloads.json").read_text())
runner = CliRunner()


@pytest.mark.parametrize("name", sorted(INDEX))
def test_the_docs_examples_would_be_stored_without_a_warning(name: str) -> None:
    r = runner.invoke(cli, ["check", "--topic", INDEX[name], "--json", str(EXAMPLES / name)])
    assert r.exit_code == 0, r.output
    out = orjson.loads(r.stdout)
    assert out["ok"] is True and out["errors"] == [] and out["warnings"] == [] and out["would_store"]


@pytest.mark.parametrize("case", BAD, ids=[f"{c['reason']}-{i}" for i, c in enumerate(BAD)])
def test_the_bad_vectors_are_refused_with_their_reason(case: dict, tmp_path: Path) -> None:
    f = tmp_path / "payload"
    f.write_text(case["payload"])
    r = runner.invoke(cli, ["check", "--topic", case["topic"], "--json", str(f)])
    assert r.exit_code == 1, r.output
    out = orjson.loads(r.stdout)
    assert out["ok"] is False and out["would_store"] == []
    assert out["errors"][0]["reason"] == case["reason"]


def test_check_reads_stdin_in_a_real_process_and_prints_for_people() -> None:
    good = subprocess.run(
        [sys.executable, "-m", "satupintu", "check", "--topic", "city/morotai/sensor/awlr-x", "-"],
        input=b'{"values": {"waterlevel": 120}}',
        capture_output=True,
        env=satupintu_env(),
        timeout=60,
        cwd=REPO,
    )
    assert good.returncode == 0, good.stderr
    text = good.stdout.decode()
    assert "would be stored" in text and "warning unknown_metric" in text and "water_level_cm" in text
    bad = subprocess.run(
        [sys.executable, "-m", "satupintu", "check", "--topic", "city/morotai/service/layanan-112"],
        input=b'{"ticket_id": "a", "status": "opened", "priority": "urgent"}',
        capture_output=True,
        env=satupintu_env(),
        timeout=60,
        cwd=REPO,
    )
    assert bad.returncode == 1
    assert bad.stdout.decode().count("error bad_field") == 2


def test_an_unreadable_file_is_exit_2(tmp_path: Path) -> None:
    r = runner.invoke(cli, ["check", "--topic", "city/morotai/status/a", str(tmp_path / "missing.json")])
    assert r.exit_code == 2 and "cannot read" in r.output


def test_the_docs_show_every_example_verbatim() -> None:
    docs = (REPO / "docs" / "mqtt.md").read_text()
    for name in INDEX:
        if name.endswith(".json"):
            assert (EXAMPLES / name).read_text().strip() in docs, name


def test_check_with_a_province_profile_judges_each_city_by_its_own_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 15: SATUPINTU_PROFILE=maluku-utara; a PDAM pressure reading is Morotai's metric, not Ternate's."""
    from app.settings import get_settings

    f = tmp_path / "payload"
    f.write_bytes(b'{"values": {"water_pressure_bar": 2.5}}')
    monkeypatch.setenv("SATUPINTU_PROFILE", "maluku-utara")
    monkeypatch.setenv("SATUPINTU_INGEST_UNKNOWN_METRIC", "quarantine")
    get_settings.cache_clear()
    answers = {}
    try:
        for city in ("morotai", "ternate", "halmahera-utara", "jakarta"):
            r = runner.invoke(cli, ["check", "--topic", f"city/{city}/sensor/pdam-1", "--json", str(f)])
            answers[city] = (r.exit_code, [e["reason"] for e in orjson.loads(r.stdout)["errors"]])
    finally:
        get_settings.cache_clear()
    assert answers == {
        "morotai": (0, []),
        "ternate": (1, ["unknown_metric"]),
        "halmahera-utara": (1, ["unknown_metric"]),
        "jakarta": (1, ["unknown_city"]),
    }
