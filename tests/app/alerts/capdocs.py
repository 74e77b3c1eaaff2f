"""Hand-made CAP 1.2 documents for the regional-warning tests (Morotai: a nowcast over a district, a near quake)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

NS = "urn:oasis:names:tc:emergency:cap:1.2"
BMKG = "cuaca.ekstrem@bmkg.go.id"
# A ring over Morotai Utara (its centre is 2.55, 128.65), as CAP's lat,lon pairs.
OVER_UTARA = "2.50,128.60 2.50,128.70 2.60,128.70 2.60,128.60 2.50,128.60"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def cap(
    identifier: str,
    *,
    sender: str = BMKG,
    msg_type: str = "Alert",
    references: str | None = None,
    polygon: str | None = OVER_UTARA,
    circle: str | None = None,
    severity: str = "Severe",
    sent: datetime | None = None,
    expires: datetime | None = None,
    parameters: dict[str, str] | None = None,
    headline: str = "Hujan Lebat disertai Petir di Maluku Utara",
    event: str = "Hujan Lebat dan Petir",
    category: str = "Met",
    status: str = "Actual",
) -> bytes:
    sent = sent or datetime.now(UTC) - timedelta(minutes=1)
    expires = expires or sent + timedelta(hours=3)
    refs = f"<references>{references}</references>" if references else ""
    shapes = (f"<polygon>{polygon}</polygon>" if polygon else "") + (f"<circle>{circle}</circle>" if circle else "")
    params = "".join(
        f"<parameter><valueName>{k}</valueName><value>{v}</value></parameter>" for k, v in (parameters or {}).items()
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{NS}">
  <identifier>{identifier}</identifier>
  <sender>{sender}</sender>
  <sent>{iso(sent)}</sent>
  <status>{status}</status>
  <msgType>{msg_type}</msgType>
  <scope>Public</scope>
  {refs}
  <info>
    <language>id</language>
    <category>{category}</category>
    <event>{event}</event>
    <urgency>Immediate</urgency>
    <severity>{severity}</severity>
    <certainty>Observed</certainty>
    <effective>{iso(sent)}</effective>
    <expires>{iso(expires)}</expires>
    <headline>{headline}</headline>
    <description>Waspada hujan lebat.</description>
    {params}
    <area>
      <areaDesc>Maluku Utara</areaDesc>
      {shapes}
    </area>
  </info>
</alert>""".encode()


def quake(
    identifier: str,
    *,
    magnitude: str = "6.1",
    tsunami: bool = True,
    lat: float = 2.45,
    lon: float = 129.06,
    sent: datetime | None = None,
) -> bytes:
    """An earthquake as `satupintu feeds` writes it: a circle around the epicentre, magnitude and tsunami kept."""
    return cap(
        identifier,
        sender="bmkg-gempa@bmkg.go.id",
        polygon=None,
        circle=f"{lat},{lon} 50",
        severity="Extreme" if tsunami else "Severe",
        parameters={"magnitude": magnitude, "depth_km": "10", "tsunami": "true" if tsunami else "false"},
        headline=f"Gempa Mag:{magnitude}, {'berpotensi tsunami' if tsunami else 'tidak berpotensi tsunami'}",
        event="Gempabumi",
        category="Geo",
        sent=sent,
        expires=(sent or datetime.now(UTC)) + timedelta(days=1),
    )
