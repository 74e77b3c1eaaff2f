"""The two formats GeoReport v2 speaks: XML (required by the spec) and JSON, chosen by the `.xml`/`.json` suffix.

Answers are lists of flat records (a few nest a list: a service definition's
attributes, discovery's endpoints). XML is built with the standard library's
ElementTree, which escapes every text it is given: citizens' descriptions and
names are free text from outside. Nothing here reads XML (the spec's POST is a
form), so no parser is exposed to outside XML.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any, Literal

import orjson
from fastapi import HTTPException
from fastapi.responses import Response

Format = Literal["xml", "json"]
# How a list element's children are named in XML: the spec's element names.
CHILD = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
# Characters XML 1.0 cannot carry at all (not even escaped); a ticket's text from an integrator may hold them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
MEDIA = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}


class Open311Error(HTTPException):
    """An error in the spec's own format: `[{"code": 400, "description": "..."}]` or `<errors><error>...`."""

    def __init__(
        self, code: int, description: str, fmt: Format = "json", headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(code, detail=description, headers=headers)
        self.fmt = fmt


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("\ufffd", str(value))


def _element(name: str, value: Any) -> ET.Element:
    el = ET.Element(name)
    if isinstance(value, dict):
        for k, v in value.items():
            el.append(_element(k, v))
    elif isinstance(value, list):
        child = CHILD.get(name, "item")
        for v in value:
            el.append(_element(child, v))
    else:
        el.text = _text(value)
    return el


def to_xml(root: str, value: list[Any] | dict[str, Any]) -> bytes:
    """`value` as the spec's XML document under `root`, with the UTF-8 declaration the spec asks for."""
    body = ET.tostring(_element(root, value), encoding="unicode")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body.encode()


def answer(fmt: Format, root: str, value: list[Any] | dict[str, Any], status_code: int = 200) -> Response:
    """One answer in the asked format: JSON as the value, XML under `root`."""
    body = orjson.dumps(value) if fmt == "json" else to_xml(root, value)
    return Response(body, status_code=status_code, media_type=MEDIA[fmt])


def error_response(exc: Open311Error) -> Response:
    """The spec's error list for `exc`, in its format."""
    resp = answer(exc.fmt, "errors", [{"code": exc.status_code, "description": str(exc.detail)}], exc.status_code)
    resp.headers.update(exc.headers or {})
    return resp
