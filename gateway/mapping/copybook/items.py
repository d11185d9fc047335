"""The data description entries of a copybook, as the parser reads them and the layout
completes them, and the public description of each field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class FieldInfo:
    """One named item of a record, for documentation, schemas and importers."""

    path: str
    offset: int
    length: int
    picture: str | None
    usage: str
    occurs: int | None
    redefines: str | None
    kind: str  # text, integer, decimal, float, national, dbcs, group
    scale: int
    digits: int
    occurs_min: int | None = None
    depending_on: str | None = None
    signed: bool = False


@dataclass
class Item:
    """One entry: its clauses as written, then its layout once computed."""

    level: int
    name: str | None  # None for FILLER
    line: int
    picture: str | None = None
    usage: str | None = None  # None: inherited from the group, else display
    occurs: int | None = None  # the maximum number of occurrences
    occurs_min: int | None = None  # with DEPENDING ON: the minimum
    depending_on: str | None = None
    redefines: str | None = None
    sign_leading: bool = False
    sign_separate: bool = False
    sync: bool = False
    blank_when_zero: bool = False
    children: list[Item] = field(default_factory=list)
    # computed by the layout
    kind: str = "group"
    digits: int = 0
    scale: int = 0  # digits after the decimal point; negative for trailing P
    signed: bool = False
    size: int = 0  # bytes of one occurrence
    offset: int = 0
    align: int = 1  # the boundary a SYNC item (or a group holding one) keeps
    edit: Any = None  # the EditedPicture of a numeric-edited item

    @property
    def variable(self) -> bool:
        """Whether this item's length depends on data (OCCURS DEPENDING ON, here or inside)."""
        return self.depending_on is not None or any(c.variable for c in self.children)
