"""Finding an adapter class by its name.

Built-in adapters are imported lazily, so that a gateway without an ODBC backend starts on a
machine without unixODBC. Third-party adapters register an entry point in the
``legacy_gateway.adapters`` group: ``mqseries = "acme_gateway.mq:MQAdapter"``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import Any

from adapters.base import Adapter
from gateway.config.adapters import AdapterModels
from gateway.suggest import did_you_mean

ENTRY_POINT_GROUP = "legacy_gateway.adapters"

BUILTIN: dict[str, str] = {
    "soap": "adapters.soap:SoapAdapter",
    "odbc": "adapters.odbc:OdbcAdapter",
    "amqp": "adapters.amqp:AmqpAdapter",
    "http": "adapters.http:HttpAdapter",
}


class UnknownAdapter(LookupError):
    pass


def available() -> dict[str, str]:
    """Every adapter name the gateway can load, with the object reference it loads."""
    found = dict(BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def adapter_class(name: str) -> type[Adapter[Any]]:
    known = available()
    if name not in known:
        raise UnknownAdapter(f"unknown adapter '{name}'{did_you_mean(name, known)}")
    module_name, _, attribute = known[name].partition(":")
    module = importlib.import_module(module_name)
    cls = getattr(module, attribute)
    if not (isinstance(cls, type) and issubclass(cls, Adapter)):
        raise UnknownAdapter(f"adapter '{name}' ({known[name]}) is not an Adapter subclass")
    return cls


class InstalledAdapters:
    """The adapters of this installation, as the config loader looks them up."""

    def names(self) -> list[str]:
        return sorted(available())

    def models(self, name: str) -> AdapterModels:
        cls = adapter_class(name)
        return AdapterModels(cls.config_model, cls.tool_model)


INSTALLED = InstalledAdapters()
