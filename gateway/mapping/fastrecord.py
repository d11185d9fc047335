"""A generated fast path for mapping plain-data records: one function per record layout.

Mapping a large answer costs per field and row, and the general field mapper makes four or
five Python calls per value (getter, error guard, null handling, type conversion). For the
common shape (a field read from one key of a dict) this module writes, when the config
loads, one function per record mapping whose body is a single dict display with each
field's conversion inlined:

- text that is only trimmed is ``v.strip()``, text passed as is is ``v``;
- values whose conversion is costly but repeat across rows (dates, codes, units, flags,
  numbers held as text) go through a per-field memo of legacy text -> result, bounded in
  size so that memory stays flat under any load;
- everything else calls the field's compiled converter or general mapper.

``compile_row_mapper`` writes the same expressions over a database's rows instead of dicts,
one function per column list: each row is unpacked into locals once, and no dict is built
for it.

The generated code only ever names variables bound in its namespace (no YAML text is put
into source code). The fast path is an optimisation only: when it meets anything unusual
(a missing record, a value of the wrong type, a value that cannot be converted) it raises,
and the caller maps the record again on the general path, which produces the exact error
with the field's path and raw value. Both paths call the same converters, so their results
are the same.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from gateway.mapping.spec import OutputField
from gateway.mapping.values import EXACT_INT, Converter, legacy_to_agent

#: Distinct legacy texts remembered per field; enough for every date of a century.
MEMO_LIMIT = 50_000
_MEMOISED = frozenset({"date", "time", "datetime", "boolean", "decimal", "number", "integer"})


def _plain_path(spec: OutputField, name: str) -> tuple[str, ...] | None:
    """The keys of a plain dotted path (``A``, ``GROUP.FIELD``), or None for JMESPath."""
    source = spec.source or name
    keys = tuple(source.split("."))
    for key in keys:
        bare = key.replace("_", "").replace("-", "")
        if not (bare.isalnum() and bare.isascii() and not key[0].isdigit()):
            return None
    return keys if spec.xpath is None else None


class _Unusual(Exception):
    """Raised inside the fast path to hand a record over to the general path."""


def _dotted(keys: tuple[str, ...]) -> Callable[[dict[str, Any]], Any]:
    first, rest = keys[0], keys[1:]

    def read(raw: dict[str, Any]) -> Any:
        node = raw.get(first)
        for key in rest:
            if node.__class__ is dict:
                node = node.get(key)
            elif node is None:
                return None
            else:
                raise _Unusual(key)  # a list or a text where a record should be
        return node

    return read


def _memo(
    convert: Converter,
    texts: dict[str, Any],
    decimals: dict[str, Any],
    integers: dict[int, Any] | None = None,
) -> Converter:
    """The converter, remembering results by exact spelling.

    Equal numbers of different types or spellings (0, 0.0, False, Decimal("0.0")) are one
    dict key but may map differently (null_values compare spellings, a date reads digits),
    so texts are remembered as themselves, decimals (as copybook fields decode) by their
    spelling, and plain ints (copybook dates and counts) as themselves, each in a table of
    its own; nothing else is remembered.
    """

    def fill(raw: Any) -> Any:
        value = convert(raw)
        if raw.__class__ is str:
            if len(texts) < MEMO_LIMIT:
                texts[raw] = value
        elif raw.__class__ is Decimal:
            if len(decimals) < MEMO_LIMIT:
                decimals[str(raw)] = value
        elif raw.__class__ is int and integers is not None and len(integers) < MEMO_LIMIT:
            integers[raw] = value
        return value

    return fill


def compile_fast_record(
    fields: dict[str, OutputField],
    general: dict[str, Callable[[Any, str], Any]],
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """The generated record function, or None when no field benefits from it."""
    namespace: dict[str, Any] = {}
    entries: list[str] = []
    inlined = 0
    for index, (name, spec) in enumerate(fields.items()):
        label = f"N{index}"
        namespace[label] = name
        keys = _plain_path(spec, name)
        if keys is None or not _simple(spec):
            namespace[f"M{index}"] = general[name]
            entries.append(f"{label}: M{index}(raw, '')")
            continue
        inlined += 1
        if len(keys) == 1:
            namespace[f"K{index}"] = keys[0]
            get = f"(v := get(K{index}))"
        else:
            namespace[f"P{index}"] = _dotted(keys)
            get = f"(v := P{index}(raw))"
            if len(keys) == 2:
                # A field of a group (GROUP.FIELD): two lookups inline; anything but a
                # record in between is the reader's to judge.
                namespace[f"K{index}"], namespace[f"L{index}"] = keys
                inner = f"g.get(L{index}) if (g := get(K{index})).__class__ is dict"
                get = f"(v := {inner} else P{index}(raw))"
        expression = _expression(index, spec, get, namespace)
        entries.append(f"{label}: ({expression})")
    if not inlined:
        return None
    body = ",\n        ".join(entries)
    # What the expressions use is bound as keyword defaults: locals, the cheapest to read.
    bound = "".join(f", {name}={name}" for name in namespace)
    source = (
        f"def fast(raw, *{bound}):\n    get = raw.get\n    return {{\n        {body},\n    }}\n"
    )
    exec(compile(source, "<mapping fast path>", "exec"), namespace)
    fast: Callable[[dict[str, Any]], dict[str, Any]] = namespace["fast"]
    return fast


def compile_row_mapper(
    fields: dict[str, OutputField], columns: tuple[str, ...]
) -> Callable[[Sequence[Sequence[Any]]], list[dict[str, Any]]] | None:
    """A function mapping database rows (tuples in ``columns`` order) to records, or None
    when a field needs more than one column's value (a nested record, a default, a JMESPath)
    or the rows' absence (a required field).

    It computes what the record function above computes from the dicts of the same rows:
    each field's value is its column's (the last of a repeated name; None when there is no
    such column) through the same inlined expression. Like that function it raises on
    anything unusual, and the caller maps the rows as dicts on the general path.
    """
    if not fields:
        return None
    position = {column: index for index, column in enumerate(columns)}
    namespace: dict[str, Any] = {}
    entries: list[str] = []
    for index, (name, spec) in enumerate(fields.items()):
        namespace[f"N{index}"] = name
        if spec.const is not None:
            namespace[f"V{index}"] = spec.const
            entries.append(f"N{index}: V{index}")
            continue
        keys = _plain_path(spec, name)
        if keys is None or len(keys) != 1 or not _simple(spec):
            return None
        column = position.get(keys[0])
        local = "None" if column is None else f"c{column}"
        entries.append(f"N{index}: ({_expression(index, spec, local, namespace, local)})")
    # The row is unpacked into locals once: cheaper than indexing it per field. What the
    # expressions use is bound as keyword defaults: locals, the cheapest names to read.
    names = "".join(f"c{index}, " for index in range(len(columns)))
    bound = "".join(f", {name}={name}" for name in namespace)
    body = ",\n            ".join(entries)
    source = (
        f"def rows(rows, *{bound}):\n"
        "    out = []\n"
        "    append = out.append\n"
        f"    for ({names}) in rows:\n"
        f"        append({{\n            {body},\n        }})\n"
        "    return out\n"
    )
    exec(compile(source, "<mapping row path>", "exec"), namespace)
    mapper: Callable[[Sequence[Sequence[Any]]], list[dict[str, Any]]] = namespace["rows"]
    return mapper


def _simple(spec: OutputField) -> bool:
    """A field whose value is one converted value read from one place."""
    return (
        not spec.list
        and spec.fields is None
        and spec.default is None
        and not spec.required
        and spec.const is None
    )


def _expression(
    index: int, spec: OutputField, get: str, namespace: dict[str, Any], v: str = "v"
) -> str:
    """The inlined source of one field's value; binds what it uses in ``namespace``.

    ``get`` is evaluated first and leaves the raw value in the variable ``v`` (it assigns it,
    or ``v`` already holds it)."""
    namespace[f"C{index}"] = convert = legacy_to_agent(spec)
    if spec.type == "string" and _is_passthrough(spec):
        return f"{v} if {get}.__class__ is str else C{index}({v})"
    if spec.type == "string" and _is_trim_only(spec):
        if spec.blank_is_null:
            return f"({v}.strip() or None) if {get}.__class__ is str else C{index}({v})"
        return f"{v}.strip() if {get}.__class__ is str else C{index}({v})"
    if _integer_shift(spec):
        # Integer cents and the like: the same exact arithmetic as the converter's own
        # fast case (values.py), without the calls.
        namespace[f"S{index}"] = 10 ** -(spec.scale or 0)
        namespace["EXACT"] = EXACT_INT
        shifted = f"({v} // S{index} if not {v} % S{index} else {v} / S{index})"
        # Cents that arrive as text (XML) are remembered by their spelling, as dates are.
        cents: dict[str, Any] = {}
        namespace[f"D{index}"] = cents
        namespace[f"F{index}"] = _memo(convert, cents, {})
        by_text = f"D{index}[{v}] if {v} in D{index} else F{index}({v})"  # texts: its only keys
        return f"{shifted} if {get}.__class__ is int and -EXACT < {v} < EXACT else {by_text}"
    if spec.type in _MEMOISED or spec.code_table is not None:
        texts: dict[str, Any] = {}
        decimals: dict[str, Any] = {}
        namespace[f"D{index}"] = texts
        namespace[f"E{index}"] = decimals
        integers: dict[int, Any] = {}
        namespace[f"I{index}"] = integers
        namespace[f"F{index}"] = _memo(convert, texts, decimals, integers)
        namespace["Decimal"] = Decimal
        # Decimals (database NUMERIC columns) are told apart first and remembered by their
        # spelling: equal decimals of other spellings may map differently. Only texts are
        # keys of D: nothing else equals one, so no further type test is needed (an
        # unhashable value raises and goes to the general path).
        by_decimal = f"(E{index}[k] if (k := str({v})) in E{index} else F{index}({v}))"
        by_text = f"D{index}[{v}] if {v} in D{index}"
        by_int = f"I{index}[{v}] if {v}.__class__ is int and {v} in I{index}"
        return (
            f"{by_decimal} if {get}.__class__ is Decimal"
            f" else {by_text} else {by_int} else F{index}({v})"
        )
    return f"(C{index}({get}))"


def _integer_shift(spec: OutputField) -> bool:
    return (
        spec.type == "decimal"
        and spec.scale is not None
        and spec.scale < 0
        and spec.unit is None
        and not spec.null_values
    )


def _is_passthrough(spec: OutputField) -> bool:
    return (
        not spec.trim
        and spec.width is None
        and spec.code_table is None
        and not spec.null_values
        and not spec.blank_is_null
    )


def _is_trim_only(spec: OutputField) -> bool:
    return spec.trim and spec.code_table is None and not spec.null_values
