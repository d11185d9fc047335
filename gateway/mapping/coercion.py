"""Which arguments the gateway took in another JSON type than their schema's, for the record.

Agents often send a digit string as a number (10000001 for "10000001"); the string
converter accepts it when its decimal form satisfies the field's pattern. The call record
says so, field by field, so that nobody reading it later wonders where the quotes went.
"""

from __future__ import annotations

from typing import Any

from gateway.mapping.spec import InputField


def coerced_fields(arguments: Any, fields: dict[str, InputField], where: str = "") -> list[Any]:
    """``[{"field", "from", "to"}]`` for each number taken as a string in ``arguments``."""
    found: list[Any] = []
    if not isinstance(arguments, dict):
        return found
    for name, spec in fields.items():
        value = arguments.get(name)
        path = f"{where}{name}"
        items = value if spec.list and isinstance(value, list) else [value]
        for index, item in enumerate(items):
            at = f"{path}[{index}]" if spec.list else path
            if spec.fields is not None:
                found.extend(coerced_fields(item, spec.fields, at + "."))
            elif (
                spec.type == "string"
                and isinstance(item, int)
                and not isinstance(item, bool)
                and spec.const is None
            ):
                found.append({"field": at, "from": "number", "to": "string", "value": str(item)})
    return found
