"""Reading CAP 1.2: BMKG's sample, hand-made documents, and what is refused (XXE, entity bombs, bad fields)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.alerts.cap import CapError, parse_cap
from tests.app.alerts.capdocs import cap

VECTORS = Path(__file__).parents[2] / "vectors" / "bmkg"


def test_bmkg_nowcast_sample_is_read_with_its_polygons_and_offsets() -> None:
    doc = parse_cap((VECTORS / "nowcast_cap_banten.xml").read_bytes())
    assert (doc.identifier, doc.sender, doc.msg_type, doc.status) == (
        "2.49.0.1.360.0.2026.02.16.16.36.004",
        "cuaca.ekstrem@bmkg.go.id",
        "Alert",
        "Actual",
    )
    assert (doc.category, doc.severity, doc.urgency, doc.certainty) == ("Met", "Moderate", "Immediate", "Observed")
    assert doc.sent_ms == 1771257000000  # 22:50 at +07:00 is 15:50 UTC
    assert doc.expires_ms == 1771268400000  # 02:00 +07:00 on the 17th is 19:00 UTC on the 16th
    features = doc.geojson()["features"]
    assert len(features) == 2
    ring = features[0]["geometry"]["coordinates"][0]
    assert ring[0] == [105.994, -5.981]  # GeoJSON is lon, lat
    assert ring[0] == ring[-1]


def test_references_of_an_update_are_kept() -> None:
    doc = parse_cap(cap("u-1", msg_type="Update", references="a@b,first,2026-02-16T22:50:00+07:00"))
    assert doc.references == (("a@b", "first"),)


@pytest.mark.parametrize(
    ("xml", "reason"),
    [
        (b"<alert", "bad_xml"),
        (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&x;</identifier></alert>',
            "bad_xml",
        ),
        (
            b'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
            b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&b;</identifier></alert>',
            "bad_xml",
        ),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>', "bad_cap"),
        (cap("x").replace(b"<status>Actual</status>", b"<status>Real</status>"), "bad_cap"),
        (cap("x").replace(b"<sender>cuaca.ekstrem@bmkg.go.id</sender>", b""), "bad_cap"),
        (cap("x", msg_type="Cancel"), "bad_cap"),  # a Cancel names what it cancels
        (cap("x").replace(b"+00:00</sent>", b"</sent>"), "bad_time"),
        (cap("x", polygon="2.5,128.6 2.6,128.7 2.5,128.6"), "bad_area"),
        (cap("x", polygon="2.5,128.6 2.6,128.7 2.6,128.6 2.51,128.6"), "bad_area"),  # not closed
        (cap("x", polygon="95,128.6 2.6,128.7 2.6,128.6 95,128.6"), "bad_area"),
        (cap("x", polygon=None, circle="2.5,128.6"), "bad_area"),
    ],
)
def test_what_is_not_a_storable_cap_alert_is_refused_with_a_reason(xml: bytes, reason: str) -> None:
    with pytest.raises(CapError) as err:
        parse_cap(xml)
    assert err.value.reason == reason
