"""Compiled records: ``RecordLayout`` decodes bytes to a dict and encodes one back;
``SegmentedLayout`` picks one of several 01 records by a segment-id field."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.mapping.copybook.codecs import Codecs
from gateway.mapping.copybook.codepages import check_encoding
from gateway.mapping.copybook.errors import CopybookError, RecordError, hex_of
from gateway.mapping.copybook.fixed import compile_group
from gateway.mapping.copybook.generated import compile_decoder
from gateway.mapping.copybook.items import FieldInfo, Item
from gateway.mapping.copybook.layout import lay_out
from gateway.mapping.copybook.parser import tree
from gateway.mapping.copybook.source import statements
from gateway.mapping.copybook.variable import (
    check_counters,
    compile_nodes,
    decode_group,
    encode_group,
    fill_counters,
)

FLOAT_FORMATS = ("ibm", "ieee")


def _join(path: str, name: str | None) -> str:
    return f"{path}.{name}" if path and name else (name or path)


def _infos(items: list[Item], path: str, found: list[FieldInfo]) -> None:
    for item in items:
        name_path = _join(path, item.name)
        if item.name is not None:
            found.append(
                FieldInfo(
                    path=name_path,
                    offset=item.offset,
                    length=item.size,
                    picture=item.picture,
                    usage="group" if item.children else item.usage or "display",
                    occurs=item.occurs,
                    redefines=item.redefines,
                    kind=item.kind,
                    scale=item.scale,
                    digits=item.digits,
                    occurs_min=item.occurs_min if item.depending_on else None,
                    depending_on=item.depending_on,
                    signed=item.signed,
                )
            )
            _infos(item.children, name_path, found)


class RecordLayout:
    """A compiled record: ``decode(bytes) -> dict`` and ``encode(dict) -> bytes``.

    ``length`` is the record's length (its maximum, when a table's length varies: then
    ``variable`` is true and ``min_length`` the shortest).
    """

    def __init__(
        self,
        items: list[Item],
        encoding: str,
        floats: str = "ibm",
        dbcs_encoding: str | None = None,
    ) -> None:
        if floats not in FLOAT_FORMATS:
            raise CopybookError(f"floats is one of {', '.join(FLOAT_FORMATS)}, not '{floats}'")
        self.encoding = encoding
        self.items = items
        codecs = Codecs(encoding, floats, dbcs_encoding)
        self.length = lay_out(items, 0)
        infos: list[FieldInfo] = []
        _infos(items, "", infos)
        self.fields = tuple(sorted(infos, key=lambda info: (info.offset, info.path)))
        self.names = frozenset(info.path.split(".")[0] for info in self.fields)
        self.variable = any(item.variable for item in items)
        decode, encode, defaults = compile_group(items, codecs, False, 0)
        blank = bytearray(codecs.space * self.length)
        for offset, data in defaults:
            blank[offset : offset + len(data)] = data
        self._blank = bytes(blank)
        self._decode, self._encode = decode, encode
        self.min_length = self.length
        self._fast: Callable[[bytes], dict[str, Any]] | None = None
        if self.variable:
            check_counters(items, set())
            self._nodes = compile_nodes(items, codecs)
            self.min_length = len(self.encode({}))
        else:
            self._fast = compile_decoder(items, codecs)

    def decode(self, data: bytes) -> dict[str, Any]:
        if self.variable:
            found, end = self.decode_from(data, 0)
            if end != len(data):
                raise RecordError(
                    f"the record is {len(data)} bytes; its tables make it {end}",
                    "",
                    hex_of(data[end : end + 64]),
                )
            return found
        if len(data) != self.length:
            raise RecordError(
                f"the record is {len(data)} bytes; the layout needs {self.length}",
                "",
                hex_of(data[:64]),
            )
        if self._fast is not None:
            try:
                return self._fast(data)
            except Exception:
                # Anything unusual: decoded again field by field, for the exact value
                # (None for a blank field) or the error that names the field.
                pass
        value: dict[str, Any] = self._decode(data, 0)
        return value

    def decode_from(self, data: bytes, at: int) -> tuple[dict[str, Any], int]:
        """The record that starts at ``at`` in ``data``, and where it ends."""
        if not self.variable:
            end = at + self.length
            if end > len(data):
                raise RecordError(
                    f"{len(data) - at} bytes left; the layout needs {self.length}",
                    "",
                    hex_of(data[at : at + 64]),
                )
            value: dict[str, Any] = self._decode(data, at)
            return value, end
        return decode_group(self._nodes, data, at, {})

    def records(self, data: bytes) -> list[dict[str, Any]]:
        """Every record of consecutive records (a file without record headers)."""
        found: list[dict[str, Any]] = []
        at = 0
        while at < len(data):
            try:
                value, at = self.decode_from(data, at)
            except RecordError as exc:
                raise RecordError(
                    f"record {len(found) + 1} at byte {at}: {exc}", exc.field, exc.raw
                ) from None
            found.append(value)
        return found

    def encode(self, values: Mapping[str, Any]) -> bytes:
        unknown = [name for name in values if name not in self.names]
        if unknown:
            raise RecordError(f"the record has no field {unknown[0]}", unknown[0])
        if self.variable:
            out = bytearray()
            filled = fill_counters(self._nodes, values, "")
            end = encode_group(self._nodes, out, 0, filled, {}, "")
            return bytes(out[:end])
        buffer = bytearray(self._blank)
        self._encode(buffer, 0, values, "")
        return bytes(buffer)


def _records(items: list[Item]) -> dict[str, list[Item]]:
    """The 01 records of a copybook, each as the list of its items."""
    records = [item for item in items if item.level == 1]
    if len(records) == 1 and not records[0].picture and len(items) == 1:
        return {records[0].name or "RECORD": records[0].children}
    if not records or all(r.redefines for r in records[1:]):
        return {"": items}
    return {(r.name or "FILLER"): (r.children or [r]) for r in records if r.redefines is None}


def parse_records(
    text: str,
    encoding: str = "cp037",
    *,
    copy_path: Sequence[str | Path] = (),
    floats: str = "ibm",
    dbcs_encoding: str | None = None,
) -> dict[str, RecordLayout]:
    """Every 01 record of a copybook (01 REDEFINES of another belong to it), by name."""
    try:
        normal = check_encoding(encoding)
    except ValueError as exc:
        raise CopybookError(str(exc)) from None
    items = tree(statements(text, [Path(p) for p in copy_path]))
    return {
        name: RecordLayout(record, normal, floats, dbcs_encoding)
        for name, record in _records(items).items()
    }


def parse_copybook(
    text: str,
    encoding: str = "cp037",
    *,
    record: str | None = None,
    copy_path: Sequence[str | Path] = (),
    floats: str = "ibm",
    dbcs_encoding: str | None = None,
) -> RecordLayout:
    """Compile a copybook; raise ``CopybookError`` naming the line of any problem.

    A copybook of several 01 records needs ``record`` to name the one to compile (or a
    ``SegmentedLayout`` to pick one per record).
    """
    layouts = parse_records(
        text, encoding, copy_path=copy_path, floats=floats, dbcs_encoding=dbcs_encoding
    )
    if record is not None:
        if record.upper() not in layouts:
            raise CopybookError(f"no 01 record {record} (records: {', '.join(layouts)})")
        return layouts[record.upper()]
    if len(layouts) > 1:
        raise CopybookError(
            f"more than one 01 record ({', '.join(layouts)}): name one with record, or "
            "select them by a segment-id field"
        )
    return next(iter(layouts.values()))


class SegmentedLayout:
    """Several record layouts sharing a segment-id field: each record is decoded with the
    layout its segment id selects, as ``{record name: values}``."""

    def __init__(
        self, layouts: Mapping[str, RecordLayout], field: str, segments: Mapping[str, str]
    ) -> None:
        self.layouts = dict(layouts)
        self.field = field
        self.segments = {str(key): value.upper() for key, value in segments.items()}
        places = set()
        for name in set(self.segments.values()):
            if name not in self.layouts:
                raise CopybookError(f"segment record {name} is not a 01 record of the copybook")
            info = next((f for f in self.layouts[name].fields if f.path == field), None)
            if info is None:
                raise CopybookError(f"record {name} has no field {field}")
            places.add((info.offset, info.length))
        if len(places) != 1:
            raise CopybookError(f"the segment field {field} is not at one place in every record")
        self.offset, self.size = places.pop()
        self.encoding = next(iter(self.layouts.values())).encoding

    def segment_of(self, data: bytes) -> str:
        raw = data[self.offset : self.offset + self.size]
        try:
            key = raw.decode(self.encoding).strip()
        except UnicodeDecodeError:
            key = hex_of(raw)
        if key not in self.segments:
            raise RecordError(
                f"segment id '{key}' selects no record (known: {', '.join(self.segments)})",
                self.field,
                hex_of(raw),
            )
        return self.segments[key]

    def decode(self, data: bytes) -> dict[str, Any]:
        name = self.segment_of(data)
        return {name: self.layouts[name].decode(data)}

    def encode(self, values: Mapping[str, Any]) -> bytes:
        if len(values) != 1:
            raise RecordError(
                "give exactly one record: {record name: fields}", "", repr(list(values))
            )
        name, fields = next(iter(values.items()))
        if name not in self.layouts:
            raise RecordError(f"no record {name}", name)
        keys = [k for k, v in self.segments.items() if v == name]
        if not keys:
            raise RecordError(f"no segment id selects record {name}", name)
        if self.field not in fields:
            fields = {**fields, self.field: keys[0]}
        return self.layouts[name].encode(fields)


def fixed_width_layout(widths: Mapping[str, int], encoding: str = "latin-1") -> RecordLayout:
    """A record of consecutive text fields of the given widths, in order."""
    items = [
        Item(level=5, name=name, line=0, picture=f"X({width})") for name, width in widths.items()
    ]
    return RecordLayout(items, check_encoding(encoding))
