"""The two errors of the copybook codec: a copybook that does not compile, a record that
does not decode (or values that do not encode). Both are ``ValueError``; the mapping layer
turns a ``RecordError`` into the gateway's ``MappingFailed`` or ``InvalidArguments``."""

from __future__ import annotations


class CopybookError(ValueError):
    """A copybook that cannot be compiled; ``line`` is its 1-based line, when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class RecordError(ValueError):
    """A record that cannot be decoded, or values that cannot be encoded.

    ``field`` is the dotted path of the field (``LINES[2].QTY``); ``raw`` the raw bytes in
    hex (decoding) or the offending value (encoding).
    """

    def __init__(self, message: str, field: str = "", raw: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.raw = raw


def within(exc: RecordError, name: str) -> RecordError:
    """The error of a part, with the field's name put in front of its path."""
    inner = exc.field
    exc.field = name + ("" if not inner else inner if inner.startswith("[") else "." + inner)
    return exc


def hex_of(data: bytes) -> str:
    return data.hex().upper()
