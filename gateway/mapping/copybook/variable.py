"""Records whose length depends on their data: ``OCCURS n TO m TIMES DEPENDING ON counter``.

Items after a variable table move with it (as the compiler places them for the current
counter values), so these records are read and written in order with a running position.
A counter is the value of the named field as last decoded (or encoded), so a table nested
in another one uses the counter of its own occurrence. A counter outside ``n..m`` is an
error naming the table and the counter, never a short or long read.

Encoding sets each counter from the length of its table when the agent leaves it out, and
refuses a counter that disagrees with its table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.mapping.copybook.codecs import Codecs, Decoder, Encoder
from gateway.mapping.copybook.errors import CopybookError, RecordError, hex_of, within
from gateway.mapping.copybook.fixed import lenient, shared_names
from gateway.mapping.copybook.items import Item


@dataclass
class Node:
    item: Item
    decode: Decoder | None = None
    encode: Encoder | None = None
    default: bytes = b""
    children: list[Node] = field(default_factory=list)


def compile_nodes(items: list[Item], codecs: Codecs, shared: bool = False) -> list[Node]:
    views = shared_names(items)
    nodes = []
    for item in items:
        in_view = shared or (item.name in views if item.name else False)
        node = Node(item)
        if item.children:
            node.children = compile_nodes(item.children, codecs, in_view)
        else:
            node.decode, node.encode, node.default = codecs.elementary(item)
            if in_view:
                node.decode = lenient(node.decode)
        nodes.append(node)
    return nodes


def check_counters(items: list[Item], known: set[str]) -> None:
    """Every DEPENDING ON names a numeric field declared before its table."""
    for item in items:
        if item.depending_on is not None and item.depending_on not in known:
            raise CopybookError(
                f"DEPENDING ON {item.depending_on}: no numeric field of that name before it",
                item.line,
            )
        if item.name and item.kind == "integer" and not item.children:
            known.add(item.name)
        check_counters(item.children, known)


def _count(node: Node, counters: dict[str, Any], path: str) -> int:
    item = node.item
    if item.depending_on is None:
        return item.occurs or 1
    count = counters.get(item.depending_on)
    low, high = item.occurs_min or 0, item.occurs or 0
    if not isinstance(count, int) or not low <= count <= high:
        raise RecordError(
            f"{item.depending_on} is {count}, outside OCCURS {low} TO {high}",
            path,
            None if count is None else str(count),
        )
    return count


def decode_group(
    nodes: list[Node], data: bytes, at: int, counters: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    values: dict[str, Any] = {}
    starts: dict[str, tuple[int, int]] = {}
    end = at
    for node in nodes:
        item = node.item
        name = item.name or "FILLER"
        begin = starts[item.redefines][0] if item.redefines else at
        try:
            count = _count(node, counters, "")
            position = begin
            occurrences: list[Any] = []
            for index in range(count):
                try:
                    if node.children:
                        value, position = decode_group(node.children, data, position, counters)
                    else:
                        assert node.decode is not None
                        if position + item.size > len(data):
                            raise RecordError(
                                "the record ends inside this field", "", hex_of(data[position:])
                            )
                        value = node.decode(data, position)
                        position += item.size
                except RecordError as exc:
                    raise within(exc, f"[{index}]") if item.occurs else exc from None
                occurrences.append(value)
        except RecordError as exc:
            raise within(exc, name) from None
        starts[name] = (begin, position)
        end = max(end, position)
        if item.redefines is None:
            at = position
        if item.name is None:
            continue
        values[item.name] = occurrences if item.occurs else occurrences[0]
        if not item.occurs and not node.children:
            counters[item.name] = occurrences[0]
    return values, max(at, end)


def fill_counters(nodes: list[Node], values: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The values with each table's counter set from the table's length (checked if given)."""
    filled = dict(values)
    for node in nodes:
        item = node.item
        name = item.name
        if name is None:
            continue
        if filled.get(name) is None:
            if item.depending_on is not None and filled.get(item.depending_on) is None:
                filled[item.depending_on] = item.occurs_min or 0  # the shortest table
            continue
        value = filled[name]
        where = f"{path}.{name}" if path else name
        if node.children and isinstance(value, list):
            filled[name] = [
                fill_counters(node.children, v, f"{where}[{i}]") if isinstance(v, Mapping) else v
                for i, v in enumerate(value)
            ]
        elif node.children and isinstance(value, Mapping):
            filled[name] = fill_counters(node.children, value, where)
        counter = item.depending_on
        if counter is None or not isinstance(value, list | tuple):
            continue
        low, high = item.occurs_min or 0, item.occurs or 0
        if not low <= len(value) <= high:
            raise RecordError(f"{len(value)} items for OCCURS {low} TO {high}", where, repr(value))
        given = filled.get(counter)
        if given is None:
            filled[counter] = len(value)
        elif given != len(value):
            raise RecordError(
                f"{counter} is {given} but {name} has {len(value)} items", where, repr(given)
            )
    return filled


def encode_group(
    nodes: list[Node],
    out: bytearray,
    at: int,
    values: Mapping[str, Any] | None,
    counters: dict[str, Any],
    path: str,
) -> int:
    """Write the group at ``at`` (growing ``out``); return the end position."""
    if values is not None and not isinstance(values, Mapping):
        raise RecordError("expected a group of fields", path, repr(values))
    given = values or {}
    starts: dict[str, int] = {}
    end = at
    for node in nodes:
        item = node.item
        name = item.name or "FILLER"
        where = f"{path}.{name}" if path else name
        value = given.get(item.name) if item.name else None
        if item.redefines is not None and value is None:
            continue  # a view not given leaves the original's bytes
        begin = starts[item.redefines] if item.redefines else at
        if item.occurs and value is not None and not isinstance(value, list | tuple):
            raise RecordError(f"expected a list of up to {item.occurs}", where, repr(value))
        if (
            item.depending_on is None
            and item.occurs
            and value is not None
            and len(value) > item.occurs
        ):
            raise RecordError(f"{len(value)} items for OCCURS {item.occurs}", where, repr(value))
        count = _count(node, counters, where)
        items = list(value) if item.occurs and value is not None else [value]
        position = begin
        for index in range(count):
            one = items[index] if index < len(items) else None
            here = f"{where}[{index}]" if item.occurs else where
            if node.children:
                position = encode_group(node.children, out, position, one, counters, here)
            else:
                stop = position + item.size
                if len(out) < stop:
                    out.extend(bytes(stop - len(out)))
                out[position:stop] = node.default
                if one is not None:
                    assert node.encode is not None
                    node.encode(out, position, one, here)
                position = stop
        starts[name] = begin
        end = max(end, position)
        if item.redefines is None:
            at = position
        if item.name and not item.occurs and not node.children:
            counters[item.name] = value if value is not None else _decoded_default(node)
    return max(at, end)


def _decoded_default(node: Node) -> Any:
    assert node.decode is not None
    try:
        return node.decode(node.default, 0)
    except RecordError:
        return None
