"""A WSDL with bindings but no <service> is imported, and its tools call the address given
with --address, or the one set later in the backend's ${NAME_URL} variable."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.installed import INSTALLED
from gateway.config.loader import ConfigError, load_config
from gateway.importers.run import wsdl_to_config
from gateway.importers.wsdl import WsdlImportError
from tests.integration.order_desk import OrderDesk, order_desk
from tests.integration.support import call_tool, gateway_client

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "wsdl" / "constructs"
CHOSEN = {"card_token": "tok-7"}
COMMAND = Path(sys.executable).parent / "legacy-gateway"


@pytest.fixture
def desk() -> Iterator[OrderDesk]:
    with order_desk() as desk:
        yield desk


@pytest.fixture
def abstract_wsdl(tmp_path: Path) -> Path:
    """The constructs WSDL as the abstract half of a split WSDL: bindings, no service."""
    folder = shutil.copytree(FIXTURE, tmp_path / "wsdl")
    text = (folder / "constructs.wsdl").read_text(encoding="utf-8")
    abstract = re.sub(r"\s*<wsdl:service.*?</wsdl:service>", "", text, flags=re.S)
    assert "<wsdl:service" not in abstract and "<wsdl:binding" in abstract
    path = folder / "orders-abstract.wsdl"
    path.write_text(abstract, encoding="utf-8")
    return path


def _place_order(config: Path, tmp_path: Path) -> dict[str, object]:
    with gateway_client(config, tmp_path / "audit.sqlite") as client:
        schema = client.get("/v1/tools/place_order").json()["input_schema"]
        response = call_tool(client, "place_order", {**schema["examples"][0], **CHOSEN})
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()["result"]
        return result


def test_the_address_given_is_every_backends_endpoint(
    abstract_wsdl: Path, desk: OrderDesk, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    done = subprocess.run(
        [str(COMMAND), "import", "wsdl", str(abstract_wsdl),
         "--out", str(config), "--address", desk.url],
        check=False, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "declares no <service>: orders_abstract.service.wsdl" in done.stdout
    assert f"endpoint of every backend: {desk.url} (from --address)" in done.stdout
    assert "added: place_order, get_rate" in done.stdout
    text = (config / "orders_abstract.yaml").read_text(encoding="utf-8")
    assert text.count(f"endpoint: {desk.url}") == 2  # orders and rates; the 1.2 twin is left out
    assert "wsdl: orders_abstract.service.wsdl" in text

    assert _place_order(config, tmp_path)["order_number"] == 42
    (envelope,) = desk.received
    assert b"<ns0:CardToken>tok-7</ns0:CardToken>" in envelope


def test_without_an_address_the_endpoint_is_a_variable_to_set(
    abstract_wsdl: Path, desk: OrderDesk, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    _, report, notes = wsdl_to_config(str(abstract_wsdl), config)
    assert report.added == ["place_order", "get_rate"]
    advice = (
        "Set ${ORDERS_ABSTRACT_URL}, ${ORDERS_ABSTRACT_RATES_RPC12_URL} to the service's "
        "address (or import again with --address URL)."
    )
    assert advice[0].lower() + advice[1:] in notes
    assert f"# {advice}\n" in (config / "orders_abstract.yaml").read_text(encoding="utf-8")
    with pytest.raises(ConfigError, match="ORDERS_ABSTRACT_URL"):
        load_config(config, INSTALLED)

    monkeypatch.setenv("ORDERS_ABSTRACT_URL", desk.url)
    monkeypatch.setenv("ORDERS_ABSTRACT_RATES_RPC12_URL", desk.url)
    assert _place_order(config, tmp_path) == {"order_number": 42, "status": "OPEN", "lines": []}
    assert len(desk.received) == 1


def test_an_address_that_is_not_a_url_is_refused(abstract_wsdl: Path, tmp_path: Path) -> None:
    with pytest.raises(WsdlImportError, match="--address takes an http"):
        wsdl_to_config(str(abstract_wsdl), tmp_path / "config", address="orders.example")
    assert not (tmp_path / "config").exists()
