"""Floating point as hosts store it: IBM hexadecimal (COMP-1, COMP-2 on z/OS) and IEEE 754
big-endian (FLOAT-SHORT, FLOAT-LONG, or COMP-1/COMP-2 compiled with FLOAT(NATIVE)).

An IBM hexadecimal float is a sign bit, a 7-bit exponent of 16 in excess-64 and a 24-bit
(short) or 56-bit (long) fraction. Every IEEE double is exactly an IBM long (53 bits fit in
56 even when the leading hex digit wastes three), so COMP-2 round-trips any float; COMP-1
rounds to 24 bits as the host would.
"""

from __future__ import annotations

import math
import struct

_FRACTION_BITS = {4: 24, 8: 56}


def ibm_to_float(raw: bytes) -> float:
    bits = _FRACTION_BITS[len(raw)]
    word = int.from_bytes(raw, "big")
    sign = -1.0 if word >> (len(raw) * 8 - 1) else 1.0
    exponent = (word >> bits) & 0x7F
    fraction = word & ((1 << bits) - 1)
    return sign * math.ldexp(fraction, 4 * (exponent - 64) - bits)


def float_to_ibm(value: float, size: int) -> bytes:
    """The IBM hexadecimal float nearest ``value``; ValueError outside its range."""
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    bits = _FRACTION_BITS[size]
    if value == 0:
        return bytes(size)
    sign = 1 if value < 0 else 0
    mantissa, exponent = math.frexp(abs(value))  # value = mantissa * 2**exponent
    power = -(-exponent // 4)  # value = f * 16**power with 1/16 <= f < 1
    fraction = round(math.ldexp(mantissa, exponent - 4 * power + bits))
    if fraction >> bits:  # rounding carried into a new hex digit
        fraction >>= 4
        power += 1
    if not -64 <= power <= 63:
        raise ValueError("outside the range of an IBM hexadecimal float")
    word = (sign << (size * 8 - 1)) | ((power + 64) << bits) | fraction
    return word.to_bytes(size, "big")


def ieee_to_float(raw: bytes) -> float:
    value: float = struct.unpack(">f" if len(raw) == 4 else ">d", raw)[0]
    return value


def float_to_ieee(value: float, size: int) -> bytes:
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    try:
        return struct.pack(">f" if size == 4 else ">d", value)
    except OverflowError:
        raise ValueError("outside the range of an IEEE single float") from None
