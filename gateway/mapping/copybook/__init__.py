"""COBOL copybooks, compiled into decoders and encoders of mainframe records.

A copybook describes a record byte by byte::

    01  ORDER-REC.
        05  ORD-NO        PIC 9(6).                  zoned decimal, 6 bytes
        05  ORD-STATUS    PIC X.                     text, 1 byte
            88  SHIPPED   VALUE 'S'.                 condition name: ignored
        05  ORD-AMOUNT    PIC S9(5)V99 COMP-3.       packed decimal, 4 bytes
        05  ORD-QTY       PIC S9(4) COMP.            big-endian binary, 2 bytes
        05  ORD-RATE      COMP-2.                    IBM hexadecimal float, 8 bytes
        05  ORD-NAME      PIC N(10).                 UTF-16, 20 bytes
        05  ORD-TOTAL     PIC ZZ,ZZ9.99-.            numeric-edited, 10 bytes
        05  ORD-N-LINES   PIC 99.
        05  ORD-LINE      OCCURS 1 TO 9 TIMES        a table as long as ORD-N-LINES says
                          DEPENDING ON ORD-N-LINES.
            10  LINE-SKU  PIC X(8).

``parse_copybook`` reads the source (``source``), builds the item tree (``parser``), lays
it out (``layout``), and compiles one small function per field (``codecs``) into whole-
group decoders and encoders (``fixed``, or ``variable`` when a table's length depends on
the data). Decoded text is exactly as stored (the mapping trims it); numbers are ``int``,
or ``Decimal`` with the picture's scale: money never goes through a float.

Modules: ``errors`` (CopybookError, RecordError), ``codepages`` (the EBCDIC pages),
``edited`` (numeric-edited pictures), ``floats`` (IBM and IEEE floating point), ``blocks``
(RDW and BDW headers of variable-length records), ``record`` (the public layouts).
"""

from gateway.mapping.copybook.blocks import (
    IBM,
    DescriptorWords,
    framed,
    split_bdw,
    split_rdw,
    unframed,
    with_bdw,
    with_rdw,
)
from gateway.mapping.copybook.codepages import (
    EBCDIC_PAGES,
    SUPPORTED_ENCODINGS,
    check_encoding,
    is_ebcdic,
)
from gateway.mapping.copybook.errors import CopybookError, RecordError
from gateway.mapping.copybook.items import FieldInfo
from gateway.mapping.copybook.record import (
    RecordLayout,
    SegmentedLayout,
    fixed_width_layout,
    parse_copybook,
    parse_records,
)

__all__ = [
    "EBCDIC_PAGES",
    "IBM",
    "SUPPORTED_ENCODINGS",
    "CopybookError",
    "DescriptorWords",
    "FieldInfo",
    "RecordError",
    "RecordLayout",
    "SegmentedLayout",
    "check_encoding",
    "fixed_width_layout",
    "framed",
    "is_ebcdic",
    "parse_copybook",
    "parse_records",
    "split_bdw",
    "split_rdw",
    "unframed",
    "with_bdw",
    "with_rdw",
]
