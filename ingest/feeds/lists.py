"""What a fetched feed document is: a CAP alert itself, or an RSS / Atom list whose entries link CAP documents.

Parsed with defusedxml, DTDs and entities refused, like every XML from outside.
"""

from __future__ import annotations

from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from app.alerts.cap import NS

ATOM = "{http://www.w3.org/2005/Atom}"


class ListError(ValueError):
    """The document is neither CAP nor an RSS or Atom list: the reason, for the log and the feed's health."""


def links(xml: bytes) -> list[str] | None:
    """The CAP links of an RSS or Atom list; None when `xml` is a CAP alert itself."""
    try:
        root = fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ListError(f"the XML declares a DTD or entities, which are refused ({type(exc).__name__})") from exc
    except ParseError as exc:
        raise ListError(f"malformed XML: {str(exc)[:200]}") from exc
    if root.tag == "{" + NS + "}alert":
        return None
    if root.tag == "rss":
        found = (item.findtext("link") for item in root.iter("item"))  # an item's link, not the channel's
        return [u.strip() for u in found if u and u.strip()]
    if root.tag == ATOM + "feed":
        out = []
        for entry in root.iter(ATOM + "entry"):
            for link in entry.iter(ATOM + "link"):
                href = link.get("href")
                if href and link.get("rel", "alternate") in ("alternate", "related", "enclosure"):
                    out.append(href)
                    break
        return out
    raise ListError(f"the root element {root.tag[:80]!r} is neither a CAP alert, RSS nor Atom")
