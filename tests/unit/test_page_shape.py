"""Every list endpoint of every service publishes one page shape in its OpenAPI: {items, total, limit, offset}."""

from __future__ import annotations

import pytest

from services.runtime.service import create_app
from services.runtime.settings import get_settings
from tools.authz_doc import SERVICES

pytestmark = pytest.mark.unit

# GeoReport v2 (Open311) defines its own bare-array responses; clients of that standard expect them.
STANDARD_ARRAYS = {"/open311/v2/services.{fmt}", "/open311/v2/requests.{fmt}"}


def _resolve(doc: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


@pytest.mark.parametrize("name", [s for s in SERVICES if s != "console"])
def test_no_get_answers_a_bare_array_and_pages_have_one_shape(name):
    from importlib import import_module

    doc = create_app(import_module(f"services.{name}.app").spec(), get_settings()).openapi()
    pages = 0
    for path, ops in doc["paths"].items():
        ok = ops.get("get", {}).get("responses", {}).get("200", {})
        schema = ok.get("content", {}).get("application/json", {}).get("schema")
        if not schema:
            continue
        schema = _resolve(doc, schema)
        if path in STANDARD_ARRAYS:
            continue
        assert schema.get("type") != "array", f"{name} GET {path} answers a bare array"
        props = schema.get("properties", {})
        if "items" in props:
            assert set(props) == {"items", "total", "limit", "offset"}, f"{name} GET {path}: {sorted(props)}"
            assert set(schema["required"]) == {"items", "total", "limit", "offset"}
            params = {p["name"] for p in ops["get"].get("parameters", [])}
            assert {"limit", "offset"} <= params, f"{name} GET {path} cannot be paged"
            pages += 1
    assert pages >= 1
