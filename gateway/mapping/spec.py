"""The YAML shape of a tool's mappings: ``input``, ``output`` and ``request``.

Input fields are what the agent sends, each mapped onto a legacy parameter (``to``).
Output fields are what the agent gets, each picked from the legacy answer (``from`` as a
JMESPath expression over plain data, or ``xpath`` over raw XML).
A value spec (type, scale, date format, code table, unit, width...) is shared by both
directions, so that a code table or a unit is declared once and applied both ways.

Everything here is checked when the config loads: a unit pint cannot convert, a date format
that cannot round-trip, a copybook that does not parse, an unknown code table are config
errors naming the file, line and key.

Why one module of this size: it is the whole YAML shape of a mapping, whose validators refer
to each other (a record's fields are value specs, a request names input fields); the
conversions themselves live in ``converters/`` and ``units.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

FieldType = Literal[
    "string", "integer", "number", "decimal", "boolean", "date", "time", "datetime", "object"
]
UnknownCode = Literal["error", "pass", "null"]
Rounding = Literal["half_up", "half_even", "half_down", "down", "up", "floor", "ceiling"]
Transport = Literal["base64", "hex", "text", "binary"]
Framing = Literal["none", "rdw", "bdw+rdw"]
# The builtin is shadowed by the ``list`` flag inside the field models below.
StrList = list[str]
AnyList = list[Any]

#: Legacy date layouts strftime cannot express: Julian days and IBM i century digits.
LEGACY_DATE_FORMATS = ("CYYDDD", "YYDDD", "YYYYDDD", "CYYMMDD")
NUMERIC_TYPES = ("integer", "number", "decimal")
TEMPORAL_TYPES = ("date", "time", "datetime")


def checked_json_schema(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """``value`` if it is a JSON Schema (draft 2020-12); a validator's ``ValueError`` if not."""
    if value is not None:
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise ValueError(f"not a JSON Schema: {exc.message}") from None
    return value


class StrictModel(BaseModel):
    """Unknown keys are config errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class UnitSpec(StrictModel):
    """A unit conversion from the legacy unit to the agent's unit (any unit pint knows)."""

    legacy: str = Field(alias="from", description="Unit of the legacy value, e.g. inch.")
    agent: str = Field(alias="to", description="Unit the agent sees, e.g. cm.")
    round: int = Field(2, ge=0, le=12, description="Decimal places of the agent's value.")
    legacy_round: int | None = Field(
        None,
        ge=0,
        le=12,
        description="Decimal places of the legacy value on the way in; defaults to round "
        "(or to the scale's places when the field has a scale).",
    )
    rounding: Rounding = Field("half_up", description="How values are rounded, both ways.")

    @model_validator(mode="after")
    def _convertible(self) -> UnitSpec:
        from gateway.mapping.units import unit_transform  # pint is loaded only for units

        unit_transform(self.legacy, self.agent)  # raises ValueError: inch to kg is a config error
        return self


class SegmentSpec(StrictModel):
    """Several 01 records in one copybook, told apart by a segment-id field they share."""

    field: str = Field(description="The segment-id field, at the same place in every record.")
    records: dict[str, str] = Field(
        description="Segment id (as the field holds it, trimmed) -> name of its 01 record."
    )


class RecordSpec(StrictModel):
    """A value that carries a whole record: a COBOL copybook or plain widths.

    ``copybook`` is a file path relative to the YAML file, or the copybook text itself when it
    spans several lines; its COPY members are looked up beside it. ``layout`` declares a plain
    fixed-width text record instead.
    """

    copybook: str | None = Field(None, description="Copybook file, or copybook text inline.")
    layout: dict[str, int] | None = Field(
        None, description="Fixed-width text fields in order: name -> width in characters."
    )
    encoding: str | None = Field(
        None,
        description="Code page of the record: cp037, cp273, cp277, cp278, cp280, cp284, "
        "cp285, cp297, cp500, cp871, cp875, cp1047, cp1140-cp1149 (EBCDIC), ascii, latin-1, "
        "utf-8. Defaults to cp037 for copybooks, latin-1 for layouts.",
    )
    transport: Transport = Field(
        "base64",
        description="How the record travels: base64 or hex text (e.g. in a SOAP field), "
        "text (characters of the record itself), binary (raw bytes, e.g. a message body).",
    )
    framing: Framing = Field(
        "none",
        description="Variable-length records as z/OS writes them (RECFM=V/VB): rdw (each "
        "record behind a 4-byte record descriptor word) or bdw+rdw (records in blocks behind "
        "block descriptor words). A framed value holds many records: it maps to a list.",
    )
    rdw_counts_header: bool = Field(
        True,
        description="An RDW's length includes its own 4 bytes, as z/OS writes it; false for "
        "files whose RDW holds only the data's length (GnuCOBOL's default).",
    )
    rdw_byte_order: Literal["big", "little"] = Field(
        "big",
        description="Byte order of an RDW's length: big as z/OS writes it; little for files "
        "written by PC transfer tools (Cobrix's is_rdw_big_endian false).",
    )
    bdw_counts_header: bool = Field(
        True,
        description="A BDW's length includes its own 4 bytes, as z/OS writes it; false for "
        "files whose BDW holds only the block's records (Cobrix's default).",
    )
    bdw_byte_order: Literal["big", "little"] = Field(
        "big",
        description="Byte order of a BDW's length: big as z/OS writes it; little for files "
        "whose BDW holds it little-endian in bytes 2-3 (Cobrix's default).",
    )
    record: str | None = Field(
        None, description="The 01 record to use, when the copybook declares several."
    )
    segments: SegmentSpec | None = Field(
        None, description="Pick one of several 01 records by a segment-id field."
    )
    floats: Literal["ibm", "ieee"] = Field(
        "ibm",
        description="COMP-1/COMP-2 as IBM hexadecimal floating point (z/OS) or IEEE 754.",
    )
    dbcs_encoding: str | None = Field(
        None, description="Python codec of DISPLAY-1 (DBCS) fields, when the record has any."
    )
    _layout: Any = PrivateAttr(None)

    @model_validator(mode="after")
    def _compile(self, info: ValidationInfo) -> RecordSpec:
        from gateway.mapping.copybook import check_encoding, fixed_width_layout

        if (self.copybook is None) == (self.layout is None):
            raise ValueError("declare exactly one of copybook or layout")
        if self.layout is not None and any(width < 1 for width in self.layout.values()):
            raise ValueError("layout widths are positive numbers of characters")
        encoding = check_encoding(self.encoding or ("cp037" if self.copybook else "latin-1"))
        if self.copybook is None:
            self._layout = fixed_width_layout(self.layout or {}, encoding)
            return self
        text, origin, folder = _copybook_text(self.copybook, info)
        self._layout = self._copybook_layout(text, origin, folder, encoding)
        return self

    def _copybook_layout(self, text: str, origin: str, folder: Path | None, encoding: str) -> Any:
        from gateway.mapping.copybook import (
            CopybookError,
            SegmentedLayout,
            parse_copybook,
            parse_records,
        )

        options: dict[str, Any] = {
            "copy_path": [folder] if folder is not None else [],
            "floats": self.floats,
            "dbcs_encoding": self.dbcs_encoding,
        }
        try:
            if self.segments is None:
                return parse_copybook(text, encoding, record=self.record, **options)
            layouts = parse_records(text, encoding, **options)
            return SegmentedLayout(layouts, self.segments.field.upper(), self.segments.records)
        except CopybookError as exc:
            where = f"{origin} line {exc.line}: " if exc.line else f"{origin}: "
            raise ValueError(f"{where}{exc}") from None

    @property
    def compiled(self) -> Any:
        """The compiled ``RecordLayout`` (decode and encode)."""
        return self._layout


def _copybook_text(value: str, info: ValidationInfo) -> tuple[str, str, Path | None]:
    """(text, its name for errors, the folder its COPY members are in)."""
    base = (info.context or {}).get("base_dir")
    if "\n" in value:
        return value, "copybook", Path(base) if base is not None else None
    path = Path(value) if base is None or Path(value).is_absolute() else Path(base) / value
    try:
        return path.read_text(encoding="utf-8"), path.name, path.parent
    except OSError as exc:
        raise ValueError(f"cannot read copybook {path}: {exc.strerror}") from None


class ValueSpec(StrictModel):
    """How one value is typed and converted between the agent's JSON and the legacy shape."""

    type: FieldType = Field(
        "string", description="Type the agent sees; object when the field has fields."
    )
    description: str | None = None
    example: Any = None
    # numbers
    scale: int | None = Field(
        None, description="Decimal point shift from legacy to agent: -2 turns cents into euros."
    )
    unit: UnitSpec | None = None
    # dates and times
    format: str | None = Field(
        None,
        description="Legacy layout of a date, time or datetime: a strftime format such as "
        "%Y%m%d or %H%M%S, or one of CYYDDD, YYDDD, YYYYDDD (Julian), CYYMMDD.",
    )
    century_window: int = Field(
        1950,
        ge=1000,
        le=9899,
        description="First year of the hundred years that two-digit years fall in.",
    )
    timezone: str | None = Field(
        None, description="IANA timezone of the legacy host's datetimes, e.g. Europe/Berlin."
    )
    # codes and flags
    codes: dict[str, str] | str | None = Field(
        None,
        description="Code table: legacy code -> agent value (applied both ways), or the name "
        "of a table declared under code_tables.",
    )
    unknown_code: UnknownCode = Field(
        "error", description="What an unknown legacy code becomes: error, pass (as is), null."
    )
    flags: tuple[str, str] | None = Field(
        None, description="Legacy values meaning true and false, e.g. [Y, N]."
    )
    # strings and widths
    trim: bool = Field(False, description="Strip the padding legacy systems put around text.")
    width: int | None = Field(
        None, ge=1, description="Fixed legacy width: padded on the way in, stripped on the way out."
    )
    pad: str = Field(" ", min_length=1, max_length=1, description="Padding character.")
    align: Literal["left", "right"] | None = Field(
        None, description="Where the value sits in its width; left for text, right for numbers."
    )
    case: Literal["upper", "lower"] | None = Field(
        None, description="Case the legacy system expects; applied on the way in."
    )
    max_length: int | None = Field(None, ge=1)
    overflow: Literal["error", "truncate"] = Field(
        "error", description="A value longer than max_length: refused, or cut."
    )
    # null handling
    null_values: StrList | None = Field(
        None,
        description="Legacy values meaning 'none', e.g. ['0', '99999999']; the first is sent "
        "for an absent optional value.",
    )
    blank_is_null: bool = Field(
        False, description="Treat an all-blank legacy string as null (always so for non-strings)."
    )
    const: Any = Field(None, description="A fixed value: always sent, or always returned.")
    sensitive: bool = Field(
        False,
        description="Never recorded in clear: every record of the call (arguments, bind "
        "values, envelope elements, message bodies, results) holds a salted SHA-256 "
        "commitment to the value instead.",
    )
    record: RecordSpec | None = Field(
        None, description="The value is an encoded fixed-length record; map it with fields."
    )
    json_schema: dict[str, Any] | None = Field(
        None,
        description="JSON Schema keywords added to this field's published schema, for what "
        "the mapping does not check itself (an XSD choice as oneOf, exclusive ranges, formats).",
    )

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return checked_json_schema(value)

    @field_validator("codes", mode="before")
    @classmethod
    def _shared_table(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        tables: dict[str, dict[str, str]] = (info.context or {}).get("code_tables", {})
        if value not in tables:
            from gateway.suggest import did_you_mean

            known = ", ".join(sorted(tables)) or "none declared"
            raise ValueError(
                f"unknown code table '{value}'{did_you_mean(value, tables)} (known: {known})"
            )
        return tables[value]

    @field_validator("codes", mode="after")
    @classmethod
    def _distinct(cls, value: Any) -> Any:
        if isinstance(value, dict) and len(set(value.values())) != len(value):
            raise ValueError("codes must map each legacy code to a distinct agent value")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            import zoneinfo

            try:
                zoneinfo.ZoneInfo(value)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown timezone '{value}' (use an IANA name)") from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _implied_type(cls, data: Any) -> Any:
        # A unit or scale says "number" and fields say "object"; do not make the integrator
        # repeat it.
        if isinstance(data, dict) and "type" not in data:
            if data.get("fields") is not None:
                return {**data, "type": "object"}
            if data.get("unit") is not None or data.get("scale") is not None:
                return {**data, "type": "decimal"}
        return data

    @model_validator(mode="after")
    def _coherent(self) -> ValueSpec:
        kind = self.type
        if self.scale is not None and kind != "decimal":
            raise ValueError("scale applies only to type: decimal")
        if self.unit is not None and kind not in ("number", "decimal"):
            raise ValueError("unit applies only to type: number or decimal")
        if self.format is not None and kind not in TEMPORAL_TYPES:
            raise ValueError("format applies only to type: date, time or datetime")
        if self.timezone is not None and kind != "datetime":
            raise ValueError("timezone applies only to type: datetime")
        if self.flags is not None and kind != "boolean":
            raise ValueError("flags applies only to type: boolean")
        if self.codes is not None and kind != "string":
            raise ValueError("codes applies only to type: string")
        if self.record is not None and kind != "object":
            raise ValueError("record needs fields: the record's parts are mapped by them")
        if self.format is not None:
            from gateway.mapping.temporal import check_format

            check_format(kind, self.format)
        return self

    @property
    def code_table(self) -> dict[str, str] | None:
        """The resolved code table (shared tables are resolved when the config loads)."""
        return self.codes if isinstance(self.codes, dict) else None


def _valid_regex(pattern: str | None) -> str | None:
    if pattern is not None:
        from gateway.mapping.patterns import ecma_pattern

        ecma_pattern(pattern)  # raises ValueError: the pattern is published as JSON Schema
    return pattern


def _framed_is_list(record: RecordSpec | None, many: bool) -> None:
    if record is not None and record.framing != "none" and not many:
        raise ValueError(
            f"framing: {record.framing} carries many records: declare list: true beside it"
        )


class InputField(ValueSpec):
    """One argument the agent sends, or a constant the legacy system always receives."""

    to: str | None = Field(
        None,
        description="Legacy parameter; defaults to the field name. Dotted for nested "
        "parameters (A.B); a path such as ns:Order/ns:Line, @attr or #text (the "
        "element's own text) in an XML request.",
    )
    required: bool = True
    default: Any = None
    pattern: str | None = Field(
        None,
        description="Regular expression the agent's value matches, in JSON Schema's language "
        "(ECMA-262): $ is the very end of the value, \\d is 0-9.",
    )
    min_length: int | None = Field(None, ge=0)
    minimum: float | None = None
    maximum: float | None = None
    list: bool = Field(False, description="The agent sends an array of these.")
    min_items: int | None = Field(None, ge=0)
    max_items: int | None = Field(None, ge=1)
    fields: dict[str, InputField] | None = Field(
        None, description="The agent sends an object with these fields (a nested record)."
    )

    _pattern_compiles = field_validator("pattern")(_valid_regex)

    @model_validator(mode="after")
    def _input_coherent(self) -> InputField:
        if self.default is not None and self.required:
            # A field with a default is optional by nature; say so rather than guess.
            object.__setattr__(self, "required", False)
        if self.const is not None:
            object.__setattr__(self, "required", False)
        if self.type == "object" and not self.fields:
            raise ValueError("type: object needs fields")
        if (self.min_items is not None or self.max_items is not None) and not self.list:
            raise ValueError("min_items and max_items apply only to list: true")
        _framed_is_list(self.record, self.list)
        return self


class OutputField(ValueSpec):
    """One value the agent gets, or a nested object or list of them."""

    source: str | None = Field(
        None,
        alias="from",
        description="JMESPath expression (or plain dotted name) in the legacy answer; "
        "defaults to the field name.",
    )
    xpath: str | None = Field(
        None, description="XPath in the legacy XML, with prefixes declared under namespaces."
    )
    required: bool = Field(
        False, description="The legacy answer always has this value; a missing one is an error."
    )
    default: Any = Field(None, description="What the agent gets when the legacy value is null.")
    list: bool = Field(False, description="The legacy value repeats: map each occurrence.")
    fields: dict[str, OutputField] | None = Field(
        None, description="Map a nested legacy record into an object with these fields."
    )

    @model_validator(mode="after")
    def _output_coherent(self) -> OutputField:
        if self.source is not None and self.xpath is not None:
            raise ValueError("declare from (JMESPath) or xpath, not both")
        if self.type == "object" and not self.fields:
            raise ValueError("type: object needs fields")
        _framed_is_list(self.record, self.list)
        return self


class OutputSpec(StrictModel):
    """The tool's result: fields picked from the legacy answer, optionally below a root."""

    source: str | None = Field(
        None, alias="from", description="JMESPath of the record the fields are read from."
    )
    xpath: str | None = Field(
        None, description="XPath of the record in raw XML; fields then use xpath too."
    )
    namespaces: dict[str, str] = Field(
        default_factory=dict, description="Prefix -> namespace URI for xpath expressions."
    )
    list: bool = Field(False, description="The root repeats: the result is {'items': [...]}.")
    record: RecordSpec | None = Field(
        None, description="The answer (or the value at from) is an encoded record."
    )
    fields: dict[str, OutputField] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_language(self) -> OutputSpec:
        if self.source is not None and self.xpath is not None:
            raise ValueError("declare from (JMESPath) or xpath, not both")
        if self.source is not None and self.uses_xml and self.record is None:
            raise ValueError(
                "fields read by xpath need the record found by xpath too: "
                "use output.xpath instead of output.from"
            )
        _framed_is_list(self.record, self.list)
        return self

    @property
    def uses_xml(self) -> bool:
        """The mapping reads raw XML (XPath) rather than plain data."""
        return self.xpath is not None or any(
            spec.xpath is not None for spec in self.fields.values()
        )


class XmlRequestSpec(StrictModel):
    """A request body built as XML: the root element and the namespaces of its names."""

    root: str = Field(description="Root element, e.g. ord:OrderRequest.")
    namespaces: dict[str, str] = Field(
        default_factory=dict, description="Prefix -> namespace URI for root and every to: path."
    )


class RequestSpec(StrictModel):
    """How the mapped parameters are serialised for the legacy system, when not as parameters."""

    xml: XmlRequestSpec | None = Field(
        None, description="Build an XML document; input fields' to: are paths in it."
    )
    record: RecordSpec | None = Field(
        None, description="Encode the parameters as one fixed-length record."
    )

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        if (self.xml is None) == (self.record is None):
            raise ValueError("declare exactly one of xml or record")
        return self
