"""The order-processing host's records, written by hand, read by the gateway's copybook codec.

The two are independent: agreement on every field checks both against the copybooks.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from estate.orders import (
    FIRST_ORDER,
    REPLY_LENGTH,
    REQUEST_LENGTH,
    decode_request,
    encode_reply,
    packed_amount,
    poison_reply,
    seed_orders,
)
from gateway.mapping.copybook import RecordError, RecordLayout, parse_copybook

COPYBOOKS = Path(__file__).resolve().parents[2] / "mappings" / "demo" / "copybooks"


def layout(name: str) -> RecordLayout:
    return parse_copybook((COPYBOOKS / name).read_text(), "cp037")


def test_a_reply_decodes_field_by_field() -> None:
    order = seed_orders()[FIRST_ORDER + 2]
    record = encode_reply("00", order, "READY")
    assert len(record) == REPLY_LENGTH == layout("order_reply.cpy").length
    fields = layout("order_reply.cpy").decode(record)
    assert fields == {
        "ORD-RESULT-CD": "00",
        "ORD-NO": 1000000003,
        "ORD-STATUS": "S",
        "ORD-CUSTNO": "10000003",
        "ORD-ITEM": "JACK03",
        "ORD-QTY": 3,
        "ORD-AMOUNT": Decimal("747.00"),
        "ORD-CCY": "EUR",
        "ORD-DATE": 20240104,
        "ORD-SHIP-DATE": 20240107,
        "ORD-MSG": "READY".ljust(30),
    }
    assert order.shipped == dt.date(2024, 1, 7)


def test_a_not_found_reply_has_zeros_and_blanks() -> None:
    fields = layout("order_reply.cpy").decode(encode_reply("04", None, "ORDER NOT FOUND"))
    assert fields["ORD-RESULT-CD"] == "04"
    assert (fields["ORD-NO"], fields["ORD-AMOUNT"], fields["ORD-DATE"]) == (0, 0, 0)
    assert fields["ORD-MSG"].strip() == "ORDER NOT FOUND"


def test_packed_amounts_carry_their_sign() -> None:
    assert packed_amount(Decimal("747.00")) == bytes.fromhex("000074700C")
    assert packed_amount(Decimal("-1.5")) == bytes.fromhex("000000150D")


def test_a_request_encoded_by_the_gateway_is_read_by_the_host() -> None:
    data = layout("order_request.cpy").encode(
        {"REQ-TYPE": "PLAC", "REQ-ORDER-NO": 0, "REQ-CUSTNO": "10000001",
         "REQ-ITEM": "SUIT04", "REQ-QTY": 2}
    )  # fmt: skip
    assert len(data) == REQUEST_LENGTH
    request = decode_request(data)
    assert (request.kind, request.customer, request.item, request.quantity) == (
        "PLAC", "10000001", "SUIT04", 2,
    )  # fmt: skip


def test_the_poison_reply_fails_in_the_codec() -> None:
    with pytest.raises(RecordError, match="packed"):
        layout("order_reply.cpy").decode(poison_reply(9999999990))
