"""Decoders and encoders of whole groups whose every offset is known when the copybook
compiles (no OCCURS DEPENDING ON): a precomputed list of (name, position, codec)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.mapping.copybook.codecs import Codecs, Decoder, Encoder
from gateway.mapping.copybook.errors import RecordError, within
from gateway.mapping.copybook.items import Item

Part = tuple[str, Decoder, Encoder, bool]


def lenient(decode: Decoder) -> Decoder:
    # Storage shared by REDEFINES holds one meaningful view per record; the others may
    # not decode, and are None rather than an error.
    def view(data: bytes, at: int) -> Any:
        try:
            return decode(data, at)
        except RecordError:
            return None

    return view


def shared_names(items: list[Item]) -> set[str]:
    """Names of the items of a group that share their storage with a REDEFINES."""
    names = {item.redefines for item in items if item.redefines}
    return {n for n in names if n} | {item.name for item in items if item.redefines and item.name}


def compile_group(
    items: list[Item], codecs: Codecs, shared: bool, start: int
) -> tuple[Decoder, Encoder, list[tuple[int, bytes]]]:
    """A group's decoder and encoder (both at the group's absolute position) and the
    default bytes of its elementary items, relative to the group."""
    views = shared_names(items)
    parts: list[Part] = []
    defaults: list[tuple[int, bytes]] = []
    for item in items:
        in_view = shared or (item.name in views if item.name else False)
        relative = item.offset - start
        if item.children:
            decode_one, encode_one, one_defaults = compile_group(
                item.children, codecs, in_view, item.offset
            )
        else:
            decode_one, encode_one, default = codecs.elementary(item)
            if in_view:
                decode_one = lenient(decode_one)
            one_defaults = [(0, default)]
        # An empty record holds the originals' defaults; a REDEFINES view must not
        # overwrite them with its own.
        for index in range(item.occurs or 1 if item.redefines is None else 0):
            base = relative + index * item.size
            defaults.extend((base + offset, data) for offset, data in one_defaults)
        if item.name is None:
            continue  # FILLER: only its default bytes
        parts.append(
            (
                item.name,
                _placed(decode_one, relative, item.size, item.occurs),
                _placed_encode(encode_one, relative, item.size, item.occurs),
                item.redefines is not None,
            )
        )
    return _group_decoder(parts), _group_encoder(parts), defaults


def _placed(decode: Decoder, offset: int, size: int, count: int | None) -> Decoder:
    if count is None:
        return lambda data, at: decode(data, at + offset)

    def many(data: bytes, at: int) -> Any:
        first = at + offset
        values = []
        for index in range(count):
            try:
                values.append(decode(data, first + index * size))
            except RecordError as exc:
                raise within(exc, f"[{index}]") from None
        return values

    return many


def _placed_encode(encode: Encoder, offset: int, size: int, count: int | None) -> Encoder:
    if count is None:
        return lambda buffer, at, value, path: encode(buffer, at + offset, value, path)

    def many(buffer: bytearray, at: int, value: Any, path: str) -> None:
        if not isinstance(value, list | tuple):
            raise RecordError(f"expected a list of up to {count}", path, repr(value))
        if len(value) > count:
            raise RecordError(f"{len(value)} items for OCCURS {count}", path, repr(value))
        for index, item in enumerate(value):
            if item is not None:
                encode(buffer, at + offset + index * size, item, f"{path}[{index}]")

    return many


def _group_decoder(parts: list[Part]) -> Decoder:
    readers = [(name, decode) for name, decode, _, _ in parts]

    def group(data: bytes, at: int) -> Any:
        try:
            return {name: decode(data, at) for name, decode in readers}
        except RecordError:
            pass
        # Paths are built only when something fails: a good record costs no strings.
        for name, decode in readers:
            try:
                decode(data, at)
            except RecordError as exc:
                raise within(exc, name) from None
        raise AssertionError("a field failed once and not twice")  # pragma: no cover

    return group


def _group_encoder(parts: list[Part]) -> Encoder:
    # Originals first, then each REDEFINES view that was given, over the shared bytes.
    writers = [(n, e) for n, _, e, alt in parts if not alt] + [
        (n, e) for n, _, e, alt in parts if alt
    ]

    def group(buffer: bytearray, at: int, value: Any, path: str) -> None:
        if not isinstance(value, Mapping):
            raise RecordError("expected a group of fields", path, repr(value))
        prefix = f"{path}." if path else ""
        for name, encode in writers:
            item = value.get(name)
            if item is not None:
                encode(buffer, at, item, prefix + name)

    return group
