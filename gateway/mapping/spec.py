"""The YAML shape of a tool's ``input`` and ``output`` mappings.

Input fields are what the agent sends, each mapped onto a legacy parameter (``to``).
Output fields are what the agent gets, each picked from the legacy response (``from``).
A value spec (type, scale, date format, code table, unit...) is shared by both directions so
that a code table or a unit is declared once and applied both ways.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FieldType = Literal["string", "integer", "number", "decimal", "boolean", "date"]
UnknownCode = Literal["error", "pass", "null"]


class StrictModel(BaseModel):
    """Unknown keys are config errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class UnitSpec(StrictModel):
    """A unit conversion from the legacy unit to the agent's unit (any unit pint knows)."""

    legacy: str = Field(alias="from", description="Unit of the legacy value, e.g. inch.")
    agent: str = Field(alias="to", description="Unit the agent sees, e.g. cm.")
    round: int = Field(2, ge=0, le=12, description="Decimal places after conversion.")

    @model_validator(mode="after")
    def _convertible(self) -> UnitSpec:
        from gateway.mapping.values import unit_transform  # pint is loaded only for units

        unit_transform(self)  # raises ValueError: inch to kg is a config error
        return self


class ValueSpec(StrictModel):
    """How one value is typed and converted between the agent's JSON and the legacy shape."""

    type: FieldType = "string"
    description: str | None = None
    scale: int | None = Field(
        None,
        description="Decimal point shift from legacy to agent: -2 turns cents into euros.",
    )
    format: str | None = Field(None, description="strftime format of a legacy date, e.g. %Y%m%d.")
    codes: dict[str, str] | None = Field(
        None, description="Code table: legacy code -> agent value (applied both ways)."
    )
    unknown_code: UnknownCode = Field(
        "error", description="What an unknown legacy code becomes: error, pass (as is), null."
    )
    flags: tuple[str, str] | None = Field(
        None, description="Legacy values meaning true and false, e.g. [Y, N]."
    )
    unit: UnitSpec | None = None
    example: Any = None

    @model_validator(mode="after")
    def _coherent(self) -> ValueSpec:
        if self.scale is not None and self.type != "decimal":
            raise ValueError("scale applies only to type: decimal")
        if self.format is not None and self.type != "date":
            raise ValueError("format applies only to type: date")
        if self.flags is not None and self.type != "boolean":
            raise ValueError("flags applies only to type: boolean")
        if self.unit is not None and self.type not in ("number", "decimal"):
            raise ValueError("unit applies only to type: number or decimal")
        if self.codes is not None and self.type != "string":
            raise ValueError("codes applies only to type: string")
        if self.codes is not None and len(set(self.codes.values())) != len(self.codes):
            raise ValueError("codes must map each legacy code to a distinct agent value")
        return self


def _valid_regex(pattern: str | None) -> str | None:
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from None
    return pattern


class InputField(ValueSpec):
    """One argument the agent sends."""

    to: str | None = Field(None, description="Legacy parameter name; defaults to the field name.")
    required: bool = True
    default: Any = None
    pattern: str | None = Field(None, description="Regular expression the agent's value matches.")
    min_length: int | None = Field(None, ge=0)
    max_length: int | None = Field(None, ge=1)
    minimum: float | None = None
    maximum: float | None = None
    case: Literal["upper", "lower"] | None = Field(
        None, description="Case the legacy system expects; applied after validation."
    )

    _pattern_compiles = field_validator("pattern")(_valid_regex)

    @model_validator(mode="after")
    def _default_is_optional(self) -> InputField:
        if self.default is not None and self.required:
            # A field with a default is optional by nature; say so rather than guess.
            object.__setattr__(self, "required", False)
        return self


class OutputField(ValueSpec):
    """One value the agent gets, or a nested object or list of them."""

    source: str | None = Field(
        None, alias="from", description="Dotted path in the legacy response; defaults to the name."
    )
    trim: bool = Field(False, description="Strip the padding legacy systems put around strings.")
    blank_is_null: bool = Field(
        False, description="Treat an all-blank legacy string as null (always so for non-strings)."
    )
    list: bool = Field(False, description="The legacy value repeats: map each occurrence.")
    fields: dict[str, OutputField] | None = Field(
        None, description="Map a nested legacy record into an object with these fields."
    )


class OutputSpec(StrictModel):
    """The tool's result: fields picked from the legacy response, optionally below a root."""

    source: str | None = Field(
        None, alias="from", description="Dotted path of the record the fields are read from."
    )
    list: bool = Field(False, description="The root repeats: the result is {'items': [...]}.")
    fields: dict[str, OutputField] = Field(default_factory=dict)
