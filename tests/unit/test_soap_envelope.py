"""Compiled envelopes: byte for byte what zeep builds, for every demo tool and SOAP style."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.installed import INSTALLED
from adapters.soap import SoapAdapter
from gateway.config.loader import load_config
from gateway.mapping.redaction import Commitments
from gateway.tools import Registry, build_registry

ROOT = Path(__file__).resolve().parents[2]


def registry(path: Path, monkeypatch: pytest.MonkeyPatch) -> Registry:
    for var in ("TEST_CM_URL", "TEST_CM12_URL", "TEST_FX_URL", "TEST_SECURE_URL"):
        monkeypatch.setenv(var, "http://127.0.0.1:9/x")
    monkeypatch.setenv("TEST_SECURE_PASSWORD", "not-used-here")
    return build_registry(load_config(path, INSTALLED), Commitments.throwaway())


EXTRA_ARGUMENTS: dict[str, list[dict[str, Any]]] = {
    # Optional parameters left out, and values that need escaping.
    "search_customers": [{"name_prefix": "o'b & <x>"}, {"name_prefix": "a", "status": "closed"}],
    "update_customer_address": [
        {
            "customer_number": "10000042",
            "address_line1": "1 R&D Park",
            "address_line2": "Unit 7",
            "city": "Cork",
            "postal_code": "T12",
            "country": "ie",
        }
    ],
}


@pytest.mark.parametrize("config", ["mappings/demo", "tests/fixtures/soap_test"])
def test_compiled_envelopes_equal_zeeps(config: str, monkeypatch: pytest.MonkeyPatch) -> None:
    compared = 0
    for tool in registry(ROOT / config, monkeypatch).tools.values():
        adapter = tool.adapter
        if not isinstance(adapter, SoapAdapter):
            continue  # the demo's ledger speaks ODBC
        if tool.prepared.template is None:
            assert adapter.config.wsse is not None  # only WS-Security falls back to zeep here
            continue
        for arguments in [*tool.config.examples, *EXTRA_ARGUMENTS.get(tool.name, [])]:
            params = tool.input(arguments)
            assert adapter._build(tool.prepared, params) == adapter._build_with_zeep(
                tool.prepared, params
            ), tool.name
            compared += 1
    assert compared >= 4


def test_soap12_and_rpc_templates(monkeypatch: pytest.MonkeyPatch) -> None:
    tools = registry(ROOT / "tests/fixtures/soap_test", monkeypatch).tools
    soap12 = next(t for t in tools.values() if t.config.backend == "customer_master_soap12")
    body, headers = soap12.adapter._build(soap12.prepared, {"CUSTNO": "10000001"})
    assert b"http://www.w3.org/2003/05/soap-envelope" in body
    assert headers["Content-Type"].startswith("application/soap+xml; charset=utf-8; action=")
    rpc = next(t for t in tools.values() if t.config.backend == "fx_rates")
    body, _ = rpc.adapter._build(rpc.prepared, {"FROM_CCY": "EUR", "TO_CCY": "USD"})
    # rpc/literal: the wrapper is qualified, the parts are not.
    assert b'<ns0:GetRate xmlns:ns0="urn:legacy:fx-rates:v1"><FROM_CCY>EUR</FROM_CCY>' in body


TEXTS = ["", "a & <b> > 'c' \"d\"", "Zürich €", "\U0001f600", "tab\there", "line\nbreak", "cr\r"]


def test_joined_envelopes_equal_lxmls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixed bytes joined with escaped texts are lxml's tree serialised, for any text;
    texts lxml refuses are refused the same way."""
    tools = registry(ROOT / "mappings/demo", monkeypatch).tools
    template = tools["search_customers"].prepared.template
    assert template is not None and template.pieces is not None
    for text in TEXTS:
        for params in ({"NAME_PREFIX": text}, {"NAME_PREFIX": text, "STAT_CD": "A"}):
            assert template.build(params) == template.build_tree(params), repr(text)
    assert template.build({}) == template.build_tree({})  # no parameter: <ns0:X/>
    for refused in ("nul\x00", "bell\x07", "\ufffe"):
        with pytest.raises(ValueError):
            template.build({"NAME_PREFIX": refused})
