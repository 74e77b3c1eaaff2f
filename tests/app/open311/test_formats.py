"""The two formats: XML built by the standard library, escaped, well-formed whatever the text holds."""

from __future__ import annotations

import orjson
from defusedxml import ElementTree as SafeXML

from app.open311.formats import Open311Error, answer, error_response, to_xml


def test_text_that_xml_cannot_carry_is_replaced_and_markup_is_escaped() -> None:
    body = to_xml("service_requests", [{"description": "a\x0bb <c> & \x00d", "lat": 2.5, "media_url": None}])
    root = SafeXML.fromstring(body)  # well-formed
    req = root.find("request")
    assert req.findtext("description") == "a\ufffdb <c> & \ufffdd"
    assert (req.findtext("lat"), req.findtext("media_url")) == ("2.5", "")


def test_lists_nest_under_the_specs_element_names() -> None:
    root = SafeXML.fromstring(to_xml("services", [{"service_code": "x", "metadata": True}]))
    assert [c.tag for c in root] == ["service"] and root.find("service/metadata").text == "true"
    root = SafeXML.fromstring(to_xml("service_definition", {"attributes": [{"values": [{"key": "k"}]}]}))
    assert root.find("attributes/attribute/values/value/key").text == "k"


def test_errors_in_both_formats_keep_their_headers() -> None:
    j = error_response(Open311Error(401, "an api_key is required", "json", headers={"WWW-Authenticate": "Bearer"}))
    assert (j.status_code, orjson.loads(j.body)) == (401, [{"code": 401, "description": "an api_key is required"}])
    assert j.headers["www-authenticate"] == "Bearer"
    x = error_response(Open311Error(404, "nope", "xml"))
    assert x.headers["content-type"] == "text/xml; charset=utf-8"
    assert SafeXML.fromstring(x.body).find("error/code").text == "404"
    assert answer("json", "services", []).body == b"[]"
