"""Compiled mappers for a tool: agent arguments -> legacy request, legacy answer -> result.

Both are built once from the YAML when the config loads: paths are split or compiled
(JMESPath, XPath), converters are closures with every decision taken, nested records and
lists have their own compiled mappers. Per call, the input mapper runs one closure per
argument; the output mapper runs one getter and one converter per field and record.

Mistakes found while compiling (a JMESPath that does not parse, an undeclared XML prefix)
raise ``MappingConfigError`` with the key's location, which the loader reports as a config
issue with file and line.

Why one module of this size: the input and output mappers are compiled from the same specs
by closures that share their helpers (paths, nested records, lists); the value converters
live in ``converters/``, the YAML shape in ``spec.py``, the generated fast path in
``fastrecord.py``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lxml import etree

from gateway.errors import InvalidArguments, MappingFailed
from gateway.mapping.choices import choice_errors, choices_of
from gateway.mapping.fastrecord import compile_fast_record, compile_row_mapper
from gateway.mapping.redaction import Commitments
from gateway.mapping.rows import FetchedRows
from gateway.mapping.spec import InputField, OutputField, OutputSpec, RecordSpec, RequestSpec
from gateway.mapping.values import (
    Converter,
    Unmappable,
    agent_to_legacy,
    decimal_to_json,
    legacy_to_agent,
    record_codec,
)
from gateway.mapping.xml import TEXT_KEY, XSI_NIL, element_to_value
from gateway.mapping.xmlbuild import TEXT, XmlBuilder, XmlNameError
from gateway.suggest import did_you_mean

_MISSING = object()
# A dotted path of plain names (copybook names may hold hyphens): read by dict lookups,
# which is ten times faster than a JMESPath search and covers nearly every mapping. An XML
# attribute (@name) or an element's text beside its attributes (#text) ends a path.
_NAME = r"[A-Za-z_][A-Za-z0-9_\-]*"
_PLAIN_PATH = re.compile(rf"^{_NAME}(\.{_NAME})*(\.(@{_NAME}|#text))?$|^(@{_NAME}|#text)$")

Loc = tuple[str | int, ...]
Getter = Callable[[Any], Any]
RowsMapper = Callable[[list[Any]], list[dict[str, Any]]]


class MappingConfigError(ValueError):
    """A mapping that cannot be compiled; ``loc`` is the key's path below the tool."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


# ---------------------------------------------------------------- reading paths


def _plain_get(keys: tuple[str, ...]) -> Getter:
    if len(keys) == 1:
        key = keys[0]

        def one(node: Any) -> Any:
            if isinstance(node, dict):
                return node.get(key)
            return _walk(node, keys)

        return one
    return lambda node: _walk(node, keys)


def _walk(node: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if node.__class__ is str and key[0] in "@#":
            # An element that carries no attributes was read as its text alone.
            node = node if key == TEXT_KEY else None
            continue
        if node is None or node == "":
            return None  # an empty element (read as '') holds nothing
        if isinstance(node, list):
            raise Unmappable(f"'{key}' is below a repeated element; declare list: true above it")
        if not isinstance(node, dict):
            raise Unmappable(f"expected a record holding '{key}'")
        node = node.get(key)
    return node


def data_getter(expression: str, loc: Loc) -> Getter:
    """A reader of plain data (dicts and lists): a dotted name, or any JMESPath expression."""
    if not expression:
        return lambda node: node
    if _PLAIN_PATH.fullmatch(expression):
        return _plain_get(tuple(expression.split(".")))
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        compiled = jmespath.compile(expression)
    except JMESPathError as exc:
        reason = " ".join(str(exc).split())  # jmespath's message spans lines
        raise MappingConfigError(loc, f"invalid JMESPath: {reason}") from None
    return compiled.search


def xpath_getter(expression: str, namespaces: dict[str, str], loc: Loc) -> Getter:
    """A reader of raw XML: every result of an XPath expression, as a list."""
    try:
        compiled = etree.XPath(expression, namespaces=namespaces, smart_strings=False)
    except etree.XPathSyntaxError as exc:
        raise MappingConfigError(loc, f"invalid XPath expression: {exc}") from None
    except etree.XPathError as exc:
        raise MappingConfigError(loc, f"invalid XPath expression: {exc}") from None
    try:
        # lxml resolves prefixes only when it evaluates: try once on an empty element, so
        # that an undeclared prefix is a config error, not a failure of every call.
        compiled(etree.Element("probe"))
    except etree.XPathEvalError as exc:
        declared = ", ".join(sorted(namespaces)) or "none"
        raise MappingConfigError(
            loc, f"XPath {expression}: {exc} (declared prefixes: {declared})"
        ) from None

    def search(node: Any) -> Any:
        try:
            return compiled(node)
        except etree.XPathEvalError as exc:
            raise Unmappable(f"XPath {expression} fails: {exc}") from None

    return search


def _xml_scalar(found: Any) -> Any:
    """The value of one XPath result: an element's text, an attribute's or text()'s string."""
    if isinstance(found, etree._Element):
        if found.get(XSI_NIL) in ("true", "1"):
            return None
        if len(found):
            raise Unmappable("expected a single value, found an element with children")
        return found.text or ""
    return found


def _first(results: Any) -> Any:
    if isinstance(results, list):
        return results[0] if results else None
    return results  # count(), string() and boolean XPath results are single values


def _items(raw: Any) -> list[Any]:
    # XML does not say "list" for a single occurrence: one element is a list of one.
    if raw is None:
        return []
    return raw if isinstance(raw, list) else [raw]


# ---------------------------------------------------------------- output


@dataclass(frozen=True)
class _Mode:
    xml: bool
    namespaces: dict[str, str]
    # The answer's plain values carry XML attributes (see reads_attributes).
    attributes: bool = False


def _names_attribute(path: str) -> bool:
    # "@" alone is JMESPath's current node, not an attribute.
    parts = [part.strip('"') for part in path.split(".")]
    return any((part[:1] == "@" and len(part) > 1) or part == TEXT_KEY for part in parts)


def reads_attributes(spec: OutputSpec) -> bool:
    """Whether a mapping of plain values names an XML attribute (``@name``) or the text
    beside them (``#text``): only then are attributes read from an XML answer."""

    def named(fields: dict[str, OutputField]) -> bool:
        for name, field in fields.items():
            if field.const is not None or field.xpath is not None:
                continue
            if _names_attribute(field.source or name):
                return True
            if field.fields is not None and field.record is None and named(field.fields):
                return True
        return False

    if spec.uses_xml or spec.record is not None:
        return False
    return _names_attribute(spec.source or "") or named(spec.fields)


def _field_getter(name: str, spec: OutputField, mode: _Mode, loc: Loc) -> Getter:
    if mode.xml:
        expression = spec.xpath or f"*[local-name()='{name}']"
        return xpath_getter(expression, mode.namespaces, (*loc, "xpath"))
    if spec.xpath is not None:
        raise MappingConfigError(
            (*loc, "xpath"), "xpath needs raw XML: declare output.xpath or use from"
        )
    return data_getter(spec.source or name, (*loc, "from"))


def _record_field(
    record: RecordSpec, fields: dict[str, OutputField], mode: _Mode, loc: Loc
) -> Callable[[Any, str], Any]:
    """A function (an encoded record value, its path) -> the mapped record, or the list of
    them when the value holds framed records."""
    decode, _ = record_codec(record)
    framed = record.framing != "none"
    inner = RecordMapper(fields, _Mode(False, {}), (*loc, "fields"))

    def one(item: Any, where: str) -> Any:
        raw = _xml_scalar(item) if mode.xml else item
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        try:
            decoded = decode(raw)
        except Unmappable as exc:
            raise MappingFailed(where.rstrip("."), _shown(raw), str(exc)) from None
        if framed:
            stem = where.rstrip(".")
            return [inner(d, f"{stem}[{i}].") for i, d in enumerate(decoded)]
        return inner(decoded, where)

    return one


def _field_mapper(name: str, spec: OutputField, mode: _Mode, loc: Loc) -> Callable[[Any, str], Any]:
    """A function (legacy record, path of the record) -> the field's JSON value."""
    if spec.const is not None:
        constant = spec.const
        return lambda record, where: constant
    get = _field_getter(name, spec, mode, loc)
    many, required, default = spec.list, spec.required, spec.default
    one: Callable[[Any, str], Any]
    if spec.fields is not None:
        if spec.record is not None:
            one = _record_field(spec.record, spec.fields, mode, loc)
        else:
            inner = RecordMapper(spec.fields, mode, (*loc, "fields"))

            def one(item: Any, where: str) -> Any:
                return None if item is None else inner(item, where)

    else:
        convert = legacy_to_agent(spec)
        if mode.attributes:
            convert = _text_of_attributed(convert)
        if mode.xml:
            xml_convert = convert

            def convert(raw: Any) -> Any:
                return xml_convert(_xml_scalar(raw))

        def one(item: Any, where: str) -> Any:
            try:
                return convert(item)
            except Unmappable as exc:
                raw = _xml_scalar(item) if mode.xml and item is not None else item
                raise MappingFailed(where.rstrip("."), _shown(raw), str(exc)) from None

    nested = spec.fields is not None
    records = inner if nested and spec.record is None else None
    framed_values = spec.record is not None and spec.record.framing != "none"

    def mapped(record: Any, where: str) -> Any:
        try:
            found = get(record)
        except Unmappable as exc:
            raise MappingFailed(f"{where}{name}", None, str(exc)) from None
        if many:
            occurrences = found if mode.xml else _items(found)
            if records is not None and None not in occurrences:
                return records.each(occurrences, f"{where}{name}")
            if framed_values:
                # Each occurrence holds several framed records: the list is all of them.
                return [
                    record for item in occurrences for record in one(item, f"{where}{name}.") or ()
                ]
            return [
                one(item, f"{where}{name}[{i}]." if nested else f"{where}{name}[{i}]")
                for i, item in enumerate(occurrences)
            ]
        if mode.xml:
            found = _first(found)
        value = one(found, f"{where}{name}." if nested else f"{where}{name}")
        if value is None:
            if default is not None:
                return default
            if required:
                raise MappingFailed(f"{where}{name}", None, "the legacy answer has no value")
        return value

    return mapped


def _text_of_attributed(convert: Converter) -> Converter:
    def text_then_convert(raw: Any) -> Any:
        # An element read as a value that also carries attributes: its text is the value.
        if raw.__class__ is dict and TEXT_KEY in raw:
            raw = raw[TEXT_KEY]
        return convert(raw)

    return text_then_convert


def _shown(raw: Any) -> Any:
    """The raw legacy value as it goes into an error (and the call's record)."""
    if isinstance(raw, bytes):
        return raw.hex().upper()
    if isinstance(raw, etree._Element):
        return etree.tostring(raw, encoding="unicode")[:500]
    if isinstance(raw, str | int | float | bool) or raw is None:
        return raw
    return str(raw)


class RecordMapper:
    """Maps one legacy record (a dict, or an element in XPath mode) to the agent's object."""

    def __init__(self, fields: dict[str, OutputField], mode: _Mode, loc: Loc) -> None:
        self.xml = mode.xml
        self.mappers = [
            (name, _field_mapper(name, spec, mode, (*loc, name))) for name, spec in fields.items()
        ]
        plain = not mode.xml and not mode.attributes
        self.fast = compile_fast_record(fields, dict(self.mappers)) if plain else None
        self.fields = fields if plain else None
        # Column list -> the compiled row function (None: the rows are mapped as dicts).
        self.row_mappers: dict[tuple[str, ...], RowsMapper | None] = {}
        # A record of an element's attributes and text: an answer whose element carries
        # none of its (optional) attributes has only the text.
        self.text_record = mode.attributes and any(
            _names_attribute(spec.source or name) for name, spec in fields.items()
        )

    def general(self, raw: Any, where: str) -> dict[str, Any]:
        if self.text_record and raw.__class__ is str:
            raw = {TEXT_KEY: raw}
        if raw == "" and not self.xml:
            raw = {}  # an XML element with no content: a record whose fields are all absent
        if not self.xml and raw is not None and not isinstance(raw, dict):
            raise MappingFailed(where.rstrip(".") or "$", _shown(raw), "expected a record")
        return {name: mapper(raw, where) for name, mapper in self.mappers}

    def __call__(self, raw: Any, where: str) -> dict[str, Any]:
        if self.fast is not None:
            try:
                return self.fast(raw)
            except Exception:
                # Anything unusual is mapped again on the general path, which gives the
                # exact error (field path, raw value), or the same result when there is none.
                pass
        return self.general(raw, where)

    def rows(self, fetched: FetchedRows) -> list[dict[str, Any]]:
        """Every row of a fetched batch: from the tuples when every field reads one column."""
        columns = fetched.columns
        if columns in self.row_mappers:
            mapper = self.row_mappers[columns]
        else:
            mapper = None if self.fields is None else compile_row_mapper(self.fields, columns)
            if len(self.row_mappers) < 64:  # a statement has one column list
                self.row_mappers[columns] = mapper
        if mapper is not None:
            try:
                return mapper(fetched.rows)
            except Exception:
                pass  # mapped again as dicts below, for the exact error
        return self.each(fetched.dicts(), "items")

    def each(self, items: list[Any], where: str) -> list[Any]:
        """Every record of a list; ``where[i].`` names an item in errors."""
        if self.fast is not None:
            fast = self.fast
            try:
                return [fast(item) for item in items]
            except Exception:
                pass  # mapped again one by one below, for the exact error
        return [self.general(item, f"{where}[{i}].") for i, item in enumerate(items)]


def plain_json(value: Any) -> Any:
    """Unmapped legacy data made JSON-safe: decimals as exact numbers, bytes as base64."""
    if isinstance(value, dict):
        return {key: plain_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_json(item) for item in value]
    if isinstance(value, Decimal):
        try:
            return decimal_to_json(value)
        except Unmappable:
            return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, etree._Element):
        return plain_json(element_to_value(value))
    return value


class OutputMapper:
    """Turns the legacy answer into the tool's result.

    The answer is plain data (dicts, lists, strings) for ``from`` mappings, or an lxml
    element for ``xpath`` mappings (``wants_xml``): the adapter hands over what is asked for.
    """

    def __init__(self, spec: OutputSpec, loc: Loc = ("output",)) -> None:
        self.wants_xml = spec.uses_xml
        self.reads_attributes = reads_attributes(spec)
        mode = _Mode(self.wants_xml, dict(spec.namespaces), self.reads_attributes)
        if self.wants_xml:
            root = spec.xpath or "."
            self.root = xpath_getter(root, mode.namespaces, (*loc, "xpath"))
        else:
            self.root = data_getter(spec.source or "", (*loc, "from"))
        self.root_name = spec.xpath or spec.source or "$"
        self.many = spec.list
        self.decode = record_codec(spec.record)[0] if spec.record is not None else None
        self.framed = spec.record is not None and spec.record.framing != "none"
        self.passthrough = not spec.fields
        # A decoded record is plain data even when the envelope around it was XML.
        field_mode = _Mode(False, {}) if self.decode is not None else mode
        self.record = RecordMapper(spec.fields, field_mode, (*loc, "fields"))
        self.fields = spec.fields
        self.has_sensitive = _any_sensitive(spec.fields)
        # Database rows are the list itself: each one is a record of the fields.
        self.maps_rows = (
            self.many
            and not self.wants_xml
            and not spec.source
            and self.decode is None
            and not self.passthrough
        )

    def redact(self, result: Any, commitments: Commitments) -> Any:
        """The result as it may be recorded: sensitive values as their commitments."""
        if not self.has_sensitive or not isinstance(result, dict):
            return result
        if self.many:
            items = result.get("items")
            if isinstance(items, list):
                return {
                    **result,
                    "items": [_shown_result(i, self.fields, commitments) for i in items],
                }
            return result
        return _shown_result(result, self.fields, commitments)

    def __call__(self, answer: Any) -> Any:
        if answer.__class__ is FetchedRows:
            if self.maps_rows:
                return {"items": self.record.rows(answer)}
            answer = answer.dicts()
        try:
            node = self.root(answer)
        except Unmappable as exc:
            raise MappingFailed(self.root_name, None, str(exc)) from None
        if self.wants_xml and not self.many:
            node = _first(node)
        if self.decode is not None:
            node = (
                [self._decoded(item, i) for i, item in enumerate(_items(node))]
                if (self.many)
                else self._decoded(node, None)
            )
            if self.framed:
                # Each framed value holds several records: the items are all of them.
                node = [record for records in node if records is not None for record in records]
        if self.passthrough:
            return plain_json(node)
        if self.many:
            return {"items": self.record.each(_items(node), "items")}
        if node is None:
            raise MappingFailed(self.root_name, None, "the legacy answer is empty")
        return self.record(node, "")

    def _decoded(self, raw: Any, index: int | None) -> Any:
        assert self.decode is not None
        if self.wants_xml:
            raw = _xml_scalar(raw)
        if raw is None:
            return None
        try:
            return self.decode(raw)
        except Unmappable as exc:
            where = "$" if index is None else f"items[{index}]"
            raise MappingFailed(where, _shown(raw), str(exc)) from None


# ---------------------------------------------------------------- input


def _put(target: dict[str, Any], keys: tuple[str, ...], value: Any) -> None:
    for key in keys[:-1]:
        child = target.get(key)
        if child is None:
            child = target[key] = {}
        elif not isinstance(child, dict):
            # An element that carries both text and attributes: the text moves to #text.
            child = target[key] = {TEXT: child}
        target = child
    last = keys[-1]
    if isinstance(target.get(last), dict):
        target[last][TEXT] = value
    else:
        target[last] = value


@dataclass(frozen=True)
class _InputSlot:
    name: str
    target: tuple[str, ...]
    convert: Converter
    required: bool
    default: Any
    absent: Any  # the legacy value for "none" (null_values[0]), or None to leave it out
    const: Any


class InputMapper:
    """Validates the agent's arguments and builds the legacy parameters from them.

    The result is a dict of legacy parameters (nested where ``to`` is dotted), or, with a
    ``request`` spec, the XML element or the record the backend takes as its request body.
    """

    def __init__(
        self,
        fields: dict[str, InputField],
        request: RequestSpec | None = None,
        loc: Loc = ("input",),
        names: XmlBuilder | None = None,
        rules: dict[str, Any] | None = None,
    ) -> None:
        # ``names`` resolves XML names of a nested record inside an XML request; only the
        # top-level mapper (with the request spec) builds the document. ``rules`` are the
        # JSON Schema rules published across these fields; the choices among them are enforced.
        self.choices = choices_of(rules)
        self.builder: XmlBuilder | None = None
        xml = request.xml if request is not None else None
        if xml is not None:
            try:
                self.builder = names = XmlBuilder(xml.root, xml.namespaces)
            except XmlNameError as exc:
                raise MappingConfigError(("request", "xml", "root"), str(exc)) from None
        record = request.record if request is not None else None
        self.encode = record_codec(record)[1] if record is not None else None
        self.slots = []
        for name, spec in fields.items():
            target = _target(spec.to or name, names, (*loc, name, "to"))
            convert = _input_converter(spec, (*loc, name), names)
            absent = spec.null_values[0] if spec.null_values else None
            self.slots.append(
                _InputSlot(name, target, convert, spec.required, spec.default, absent, spec.const)
            )
        self.names = frozenset(name for name, spec in fields.items() if spec.const is None)
        self.specs = fields

    def redact(self, arguments: Any, commitments: Commitments) -> Any:
        """The arguments as they may be recorded: sensitive values as their commitments."""
        return _redacted(arguments, self.specs, commitments)

    def fields_of(self, arguments: Any, where: str, errors: list[dict[str, str]]) -> Any:
        if not isinstance(arguments, dict):
            errors.append({"field": where.rstrip(".") or "$", "message": "expected an object"})
            return {}
        for name in arguments:
            if name not in self.names:
                hint = did_you_mean(name, self.names)
                errors.append({"field": f"{where}{name}", "message": f"unknown argument{hint}"})
        errors.extend(choice_errors(self.choices, arguments, where))
        params: dict[str, Any] = {}
        for slot in self.slots:
            if slot.const is not None:
                _put(params, slot.target, slot.const)
                continue
            value = arguments.get(slot.name, _MISSING)
            if value is _MISSING or value is None:
                if slot.required:
                    errors.append({"field": f"{where}{slot.name}", "message": "is required"})
                    continue
                if slot.default is None:
                    if slot.absent is not None:
                        _put(params, slot.target, slot.absent)
                    continue
                value = slot.default
            try:
                _put(params, slot.target, slot.convert(value))
            except Unmappable as exc:
                errors.append({"field": f"{where}{slot.name}", "message": str(exc)})
            except _NestedErrors as exc:
                for error in exc.errors:
                    errors.append({**error, "field": f"{where}{slot.name}{error['field']}"})
        return params

    def __call__(self, arguments: dict[str, Any]) -> Any:
        errors: list[dict[str, str]] = []
        params = self.fields_of(arguments, "", errors)
        if errors:
            raise InvalidArguments(errors)
        if self.builder is not None:
            return self.builder.build(params)
        if self.encode is not None:
            try:
                return self.encode(params)
            except Unmappable as exc:
                raise InvalidArguments([{"field": "$", "message": str(exc)}]) from None
        return params


def _any_sensitive(fields: dict[str, OutputField]) -> bool:
    return any(
        spec.sensitive or (spec.fields is not None and _any_sensitive(spec.fields))
        for spec in fields.values()
    )


def _shown_result(value: Any, fields: dict[str, OutputField], commitments: Commitments) -> Any:
    if not isinstance(value, dict):
        return value
    shown = dict(value)
    for name, spec in fields.items():
        item = shown.get(name)
        if item is None:
            continue
        if spec.sensitive:
            shown[name] = commitments.commit(item)
        elif spec.fields is not None:
            if isinstance(item, list):
                shown[name] = [_shown_result(part, spec.fields, commitments) for part in item]
            else:
                shown[name] = _shown_result(item, spec.fields, commitments)
    return shown


def _redacted(value: Any, fields: dict[str, InputField], commitments: Commitments) -> Any:
    if not isinstance(value, dict):
        return value
    shown: dict[str, Any] = {}
    for name, item in value.items():
        spec = fields.get(name)
        if spec is not None and spec.sensitive and item is not None:
            shown[name] = commitments.commit(item)
        elif spec is not None and spec.fields is not None:
            items = item if isinstance(item, list) else None
            if items is not None:
                shown[name] = [_redacted(part, spec.fields, commitments) for part in items]
            else:
                shown[name] = _redacted(item, spec.fields, commitments)
        else:
            shown[name] = item
    return shown


class _NestedErrors(Exception):
    """Errors inside a nested object or list, with field paths relative to it."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _target(path: str, builder: XmlBuilder | None, loc: Loc) -> tuple[str, ...]:
    if builder is None:
        return tuple(part for part in path.split(".") if part)
    parts = tuple(part for part in path.split("/") if part)
    for part in parts:
        if part == TEXT and len(parts) == 1:
            continue  # the text of the element the enclosing field builds
        try:
            builder.resolve(part)
        except XmlNameError as exc:
            raise MappingConfigError(loc, str(exc)) from None
    if any(part.startswith("@") for part in parts[:-1]):
        raise MappingConfigError(loc, "an attribute (@name) can only end a path")
    return parts


def _check_items(
    value: Any, low: int | None, high: int | None, one: Callable[[Any, str], Any]
) -> list[Any]:
    """Converts each item of an array, gathering every item's errors before raising them."""
    if not isinstance(value, list):
        raise Unmappable("expected an array")
    if low is not None and len(value) < low:
        raise Unmappable(f"needs at least {low} items")
    if high is not None and len(value) > high:
        raise Unmappable(f"takes at most {high} items")
    errors: list[dict[str, str]] = []
    result = []
    for index, item in enumerate(value):
        try:
            result.append(one(item, f"[{index}]"))
        except _NestedErrors as exc:
            errors.extend(exc.errors)
    if errors:
        raise _NestedErrors(errors)
    return result


def _nested_fields(inner: InputMapper) -> Callable[[Any, str], Any]:
    """One nested record's parameters; its errors are named under `where`."""

    def fields(value: Any, where: str = "") -> Any:
        errors: list[dict[str, str]] = []
        params = inner.fields_of(value, where + ".", errors)
        if errors:
            raise _NestedErrors(errors)
        return params

    return fields


def _framed_list(
    inner: InputMapper, encode: Converter, low: int | None, high: int | None
) -> Converter:
    """A list of records encoded together into one framed value (RDW or BDW+RDW)."""
    fields = _nested_fields(inner)

    def many(value: Any) -> Any:
        return encode(_check_items(value, low, high, fields))

    return many


def _input_converter(spec: InputField, loc: Loc, builder: XmlBuilder | None) -> Converter:
    one: Converter
    if spec.fields is not None:
        # Nested records inside a copybook-encoded value are plain dicts, never XML.
        inner = InputMapper(
            spec.fields,
            None,
            (*loc, "fields"),
            builder if spec.record is None else None,
            rules=spec.json_schema,
        )
        encode = record_codec(spec.record)[1] if spec.record is not None else None
        if encode is not None and spec.record is not None and spec.record.framing != "none":
            return _framed_list(inner, encode, spec.min_items, spec.max_items)

        fields = _nested_fields(inner)

        def one(value: Any, where: str = "") -> Any:
            params = fields(value, where)
            return encode(params) if encode is not None else params

    else:
        convert = agent_to_legacy(spec)

        def one(value: Any, where: str = "") -> Any:
            try:
                return convert(value)
            except Unmappable as exc:
                if where:
                    raise _NestedErrors([{"field": where, "message": str(exc)}]) from None
                raise

    if not spec.list:
        return one
    low, high = spec.min_items, spec.max_items

    def many(value: Any) -> Any:
        return _check_items(value, low, high, one)

    return many
