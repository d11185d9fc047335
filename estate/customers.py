"""Deterministic, legacy-shaped customer data for the demo customer-master service.

The data imitates a fixed-width customer master file of a mail-order tailoring firm: text
fields are upper case and space-padded on the right to their full width, dates are
``YYYYMMDD`` strings (eight spaces meaning "none"), money is integer cents, and the
customer's height (used for tailoring) is a one-decimal number of inches. Birth dates have
two-digit years (``YYMMDD``, six spaces when unknown), the last update is a host-local
``YYYYMMDDHHMMSS`` timestamp, the preferred time to call is ``HHMMSS`` (``000000``: none),
and the tailoring measurements travel as a base64 EBCDIC record (see
:mod:`estate.measurements`).

Everything is generated from a seeded :class:`random.Random`, so every run (and every
:class:`CustomerStore`) sees identical data. A few records are pinned so tests can assert
on them:

``10000001`` (fully fixed)
    CUST_NAME ``MULLER, ANNA``, ADDR_LINE1 ``KURFURSTENDAMM 21``, ADDR_LINE2 blank,
    CITY ``BERLIN``, POST_CD ``10719``, CTRY_CD ``DE``, BAL_CENTS ``123456``,
    CREDIT_LIM_CENTS ``500000``, OPEN_DT ``19870315``, LAST_ORD_DT ``20240611``,
    STAT_CD ``A``, VIP_FLG ``Y``, HEIGHT_IN ``66.5``, BIRTH_DT ``620704`` (YYMMDD),
    UPD_TS ``20240611143005`` (host time, Europe/Berlin), PREF_CALL_TM ``093000``, and a
    MEASURE_REC taken 2024-06-11 (Julian ``124163``): fit ``S``, chest 36.5, waist 30.0,
    inseam 31.5, sleeve 24.0 inches, 2 alterations, note ``LEFT SHOULDER LOW``.
``10000002``
    ``O'BRIEN, SEAN`` in DUBLIN, IE (an apostrophe in the name).
``10000003``
    ``SMITH & SONS LTD`` in LONDON, GB (an ampersand, to exercise XML escaping).

CUSTNOs run from ``10000001`` to ``10001200`` for the default 1,200 customers; at least
five names start with ``SMITH``; a share of customers have negative balances, blank
LAST_ORD_DT and blank ADDR_LINE2.

Why one module of this size: it is fixture data for the demo (generated and pinned records),
not product code.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import functools
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from estate.measurements import Measurements, to_base64

DEFAULT_COUNT: Final = 1200
DEFAULT_SEED: Final = 19870315
FIRST_CUSTNO: Final = 10000001

NAME_WIDTH: Final = 30
ADDR_WIDTH: Final = 30
CITY_WIDTH: Final = 20
POST_CD_WIDTH: Final = 10
NO_DATE: Final = " " * 8
STATUS_CODES: Final = frozenset("ACSP")

#: Wire element names of a CustomerRecord, in schema (sequence) order.
FIELD_NAMES: Final = (
    "CUSTNO", "CUST_NAME", "ADDR_LINE1", "ADDR_LINE2", "CITY", "POST_CD", "CTRY_CD",
    "BAL_CENTS", "CREDIT_LIM_CENTS", "OPEN_DT", "LAST_ORD_DT", "STAT_CD", "VIP_FLG",
    "HEIGHT_IN", "BIRTH_DT", "UPD_TS", "PREF_CALL_TM", "MEASURE_REC",
)  # fmt: skip

_CTRY_RE: Final = re.compile(r"[A-Z]{2}")


def pad(text: str, width: int) -> str:
    """Right-pad (or cut) ``text`` to exactly ``width`` characters, as the legacy file does."""
    return text[:width].ljust(width)


@dataclass(frozen=True, slots=True)
class Customer:
    """One customer record holding its values exactly as they go on the wire (padded)."""

    custno: str
    cust_name: str
    addr_line1: str
    addr_line2: str
    city: str
    post_cd: str
    ctry_cd: str
    bal_cents: int
    credit_lim_cents: int
    open_dt: str
    last_ord_dt: str
    stat_cd: str
    vip_flg: str
    height_in: Decimal
    birth_dt: str = " " * 6
    upd_ts: str = "20200101000000"
    pref_call_tm: str = "000000"
    measure_rec: str = ""

    @property
    def name(self) -> str:
        """The name without its padding."""
        return self.cust_name.rstrip()

    def wire_values(self) -> tuple[str, ...]:
        """Field texts in :data:`FIELD_NAMES` order, unescaped."""
        return (
            self.custno, self.cust_name, self.addr_line1, self.addr_line2, self.city,
            self.post_cd, self.ctry_cd, str(self.bal_cents), str(self.credit_lim_cents),
            self.open_dt, self.last_ord_dt, self.stat_cd, self.vip_flg, str(self.height_in),
            self.birth_dt, self.upd_ts, self.pref_call_tm, self.measure_rec,
        )  # fmt: skip


class CustomerStore:
    """In-memory customer file: lookup by CUSTNO, paging, name-prefix search, address update.

    Each store owns its records, so every server instance can mutate its own copy. Not
    thread-safe by design: the service touches it only from its event-loop thread.
    """

    def __init__(self, customers: Iterable[Customer]) -> None:
        self._rows = sorted(customers, key=lambda c: c.custno)
        self._pos = {c.custno: i for i, c in enumerate(self._rows)}
        # A sorted (NAME, CUSTNO) index turns prefix search into a bisect plus a short scan,
        # like the alternate-key index a legacy file would have. Updates never touch names.
        self._by_name = sorted((c.name.upper(), c.custno) for c in self._rows)

    @classmethod
    def generated(cls, count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> CustomerStore:
        """A store filled with :func:`generate_customers`."""
        return cls(generate_customers(count, seed))

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Customer]:
        return iter(self._rows)

    def get(self, custno: str) -> Customer | None:
        """The record for ``custno``, or None."""
        pos = self._pos.get(custno)
        return None if pos is None else self._rows[pos]

    def page(self, page_no: int, page_size: int) -> list[Customer]:
        """Records of the 1-based page ``page_no`` in CUSTNO order (empty past the end)."""
        start = (page_no - 1) * page_size
        return self._rows[start : start + page_size]

    def search(
        self, name_prefix: str, stat_cd: str | None = None, max_hits: int = 50
    ) -> list[Customer]:
        """Up to ``max_hits`` records whose trimmed name starts with ``name_prefix``.

        Case-insensitive, in name order (ties by CUSTNO), optionally only status ``stat_cd``.
        """
        prefix = name_prefix.strip().upper()
        hits: list[Customer] = []
        i = bisect.bisect_left(self._by_name, (prefix, ""))
        while i < len(self._by_name) and len(hits) < max_hits:
            name, custno = self._by_name[i]
            if not name.startswith(prefix):
                break
            customer = self._rows[self._pos[custno]]
            if stat_cd is None or customer.stat_cd == stat_cd:
                hits.append(customer)
            i += 1
        return hits

    def update_address(
        self,
        custno: str,
        *,
        addr_line1: str,
        addr_line2: str,
        city: str,
        post_cd: str,
        ctry_cd: str,
    ) -> Customer:
        """Replace the address of ``custno`` and return the new record.

        Raises KeyError for an unknown customer and ValueError (with a legacy-style upper
        case message) when a field does not fit the fixed-width layout.
        """
        pos = self._pos.get(custno)
        if pos is None:
            raise KeyError(custno)
        fields = {
            "ADDR_LINE1": (addr_line1.rstrip(), ADDR_WIDTH),
            "ADDR_LINE2": (addr_line2.rstrip(), ADDR_WIDTH),
            "CITY": (city.rstrip(), CITY_WIDTH),
            "POST_CD": (post_cd.rstrip(), POST_CD_WIDTH),
        }
        for label, (value, width) in fields.items():
            if len(value) > width:
                raise ValueError(f"{label} LONGER THAN {width} CHARACTERS")
        for label in ("ADDR_LINE1", "CITY"):
            if not fields[label][0].strip():
                raise ValueError(f"{label} MUST NOT BE BLANK")
        if not _CTRY_RE.fullmatch(ctry_cd):
            raise ValueError("CTRY_CD MUST BE 2 UPPER-CASE LETTERS")
        updated = dataclasses.replace(
            self._rows[pos],
            addr_line1=pad(fields["ADDR_LINE1"][0], ADDR_WIDTH),
            addr_line2=pad(fields["ADDR_LINE2"][0], ADDR_WIDTH),
            city=pad(fields["CITY"][0], CITY_WIDTH),
            post_cd=pad(fields["POST_CD"][0], POST_CD_WIDTH),
            ctry_cd=ctry_cd,
        )
        self._rows[pos] = updated
        return updated


# --- generation -----------------------------------------------------------------------------

# Per country: surnames, first names, firm suffix, streets, second address lines, cities.
# Upper-case ASCII only, like a file that went through an EBCDIC code page long ago.
_COUNTRIES: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "DE": (
        ("MULLER", "SCHMIDT", "SCHNEIDER", "FISCHER", "WEBER", "MEYER", "WAGNER", "BECKER",
         "SCHULZ", "HOFFMANN", "KOCH", "RICHTER", "KLEIN", "WOLF", "SCHRODER", "BRAUN"),
        ("ANNA", "HANS", "PETRA", "KLAUS", "SABINE", "JURGEN", "MONIKA", "STEFAN", "URSULA"),
        (" GMBH", " & SOHN KG"),
        ("HAUPTSTRASSE", "BAHNHOFSTRASSE", "GARTENWEG", "SCHILLERSTRASSE", "LINDENALLEE"),
        ("2. OG", "HINTERHAUS", "C/O BUCHHALTUNG"),
        ("BERLIN", "HAMBURG", "MUNCHEN", "KOLN", "FRANKFURT AM MAIN", "STUTTGART"),
    ),
    "FR": (
        ("MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "PETIT", "DURAND", "LEROY",
         "MOREAU", "LEFEBVRE", "GIRARD", "D'ARTOIS"),
        ("JEAN", "MARIE", "PIERRE", "SOPHIE", "LUC", "CLAIRE", "ANTOINE", "ISABELLE"),
        (" & FILS SARL", " SA"),
        ("RUE DE LA PAIX", "AVENUE VICTOR HUGO", "RUE DU BAC", "BOULEVARD HAUSSMANN"),
        ("BATIMENT B", "ESCALIER 2", "BP 42"),
        ("PARIS", "LYON", "MARSEILLE", "TOULOUSE", "BORDEAUX"),
    ),
    "GB": (
        ("SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES",
         "ROBINSON", "WRIGHT", "THOMPSON", "EVANS", "WALKER", "SMITHSON"),
        ("JOHN", "MARY", "DAVID", "SARAH", "JAMES", "EMMA", "GEORGE", "HELEN"),
        (" & SONS LTD", " TAILORING LTD"),
        ("HIGH STREET", "CHURCH ROAD", "STATION ROAD", "QUEEN'S GATE", "SAVILE ROW"),
        ("FLAT 3", "UNIT 7 & 8", "THE OLD RECTORY"),
        ("LONDON", "MANCHESTER", "BIRMINGHAM", "LEEDS", "EDINBURGH"),
    ),
    "NL": (
        ("DE JONG", "JANSEN", "DE VRIES", "VAN DEN BERG", "VAN DIJK", "BAKKER", "VISSER",
         "SMIT", "MEIJER"),
        ("JAN", "SANNE", "PIETER", "ANOUK", "DIRK", "FLEUR"),
        (" BV", " & ZN BV"),
        ("KERKSTRAAT", "DORPSSTRAAT", "HOOFDWEG", "MOLENSTRAAT"),
        ("2E ETAGE", "ACHTERHUIS"),
        ("AMSTERDAM", "ROTTERDAM", "DEN HAAG", "UTRECHT"),
    ),
    "IE": (
        ("MURPHY", "KELLY", "O'SULLIVAN", "WALSH", "SMITH", "O'BRIEN", "BYRNE", "RYAN",
         "O'CONNOR"),
        ("SEAN", "SIOBHAN", "PATRICK", "AOIFE", "CIARAN", "NIAMH"),
        (" & SONS LTD", " LTD"),
        ("MAIN STREET", "O'CONNELL STREET", "GRAFTON STREET", "PATRICK STREET"),
        ("APARTMENT 4", "C/O THE POST OFFICE"),
        ("DUBLIN", "CORK", "GALWAY", "LIMERICK"),
    ),
    "US": (
        ("SMITH", "JOHNSON", "WILLIAMS", "BROWN", "JONES", "GARCIA", "MILLER", "DAVIS",
         "RODRIGUEZ", "WILSON"),
        ("MICHAEL", "JENNIFER", "ROBERT", "LINDA", "WILLIAM", "PATRICIA"),
        (" & CO INC", " CLOTHIERS INC"),
        ("MAIN ST", "OAK AVE", "ELM ST", "5TH AVE", "MARKET ST"),
        ("SUITE 400", "APT 5B", "PO BOX 17"),
        ("NEW YORK", "BOSTON", "CHICAGO", "SAN FRANCISCO", "PHILADELPHIA"),
    ),
}  # fmt: skip
_COUNTRY_WEIGHTS: Final = {"DE": 35, "GB": 20, "FR": 15, "US": 12, "NL": 10, "IE": 8}
_STATUS_WEIGHTS: Final = {"A": 85, "C": 7, "S": 4, "P": 4}
_CREDIT_LIMITS: Final = (100_000, 250_000, 500_000, 1_000_000, 2_500_000)
_FIRST_OPEN: Final = dt.date(1975, 1, 1).toordinal()
_LAST_OPEN: Final = dt.date(2023, 12, 31).toordinal()
_LAST_ORDER: Final = dt.date(2024, 12, 31).toordinal()
_LETTERS: Final = "ABCDEFGHJKLMNPRSTUVWXY"

_PINNED: Final = (
    Customer(
        "10000001", pad("MULLER, ANNA", NAME_WIDTH), pad("KURFURSTENDAMM 21", ADDR_WIDTH),
        pad("", ADDR_WIDTH), pad("BERLIN", CITY_WIDTH), pad("10719", POST_CD_WIDTH), "DE",
        123456, 500000, "19870315", "20240611", "A", "Y", Decimal("66.5"),
    ),
    Customer(
        "10000002", pad("O'BRIEN, SEAN", NAME_WIDTH), pad("14 O'CONNELL STREET", ADDR_WIDTH),
        pad("APARTMENT 4", ADDR_WIDTH), pad("DUBLIN", CITY_WIDTH), pad("D01 F5P2", POST_CD_WIDTH),
        "IE", -4250, 250000, "19990802", "20231117", "A", "N", Decimal("71.0"),
    ),
    Customer(
        "10000003", pad("SMITH & SONS LTD", NAME_WIDTH), pad("12 SAVILE ROW", ADDR_WIDTH),
        pad("UNIT 7 & 8", ADDR_WIDTH), pad("LONDON", CITY_WIDTH), pad("W1S 3PQ", POST_CD_WIDTH),
        "GB", 1890000, 2500000, "19780104", NO_DATE, "A", "Y", Decimal("69.5"),
    ),
)  # fmt: skip

# Extra SMITH-family names placed at fixed positions so "at least five SMITHs" holds for
# any seed, not just the default one.
_SMITHS: Final = {
    100: ("SMITH, JOHN", "GB"), 200: ("SMITH, MARY", "IE"), 300: ("SMITHSON, PETER", "GB"),
    400: ("SMITH, LINDA", "US"), 500: ("SMITH TAILORING LTD", "GB"),
}  # fmt: skip


def _post_code(rng: random.Random, ctry: str) -> str:
    letters = _LETTERS
    if ctry == "GB":
        return (f"{rng.choice(letters)}{rng.choice(letters)}{rng.randint(1, 20)} "
                f"{rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}")  # fmt: skip
    if ctry == "NL":
        return f"{rng.randint(1000, 9999)} {rng.choice(letters)}{rng.choice(letters)}"
    if ctry == "IE":
        return f"D{rng.randint(1, 24):02d} {rng.choice(letters)}{rng.randint(100, 999)}"
    return f"{rng.randint(1000 if ctry == 'DE' else 10000, 99999):05d}"


def _random_customer(rng: random.Random, custno: int) -> Customer:
    ctry = rng.choices(list(_COUNTRY_WEIGHTS), weights=list(_COUNTRY_WEIGHTS.values()))[0]
    surnames, firsts, firm_suffixes, streets, extra_lines, cities = _COUNTRIES[ctry]
    surname = rng.choice(surnames)
    if rng.random() < 0.08:
        name = surname + rng.choice(firm_suffixes)
    else:
        name = f"{surname}, {rng.choice(firsts)}"
    if (custno - FIRST_CUSTNO) in _SMITHS:
        name, ctry = _SMITHS[custno - FIRST_CUSTNO]
        _, _, _, streets, extra_lines, cities = _COUNTRIES[ctry]
    number = rng.randint(1, 220)
    street = rng.choice(streets)
    # Continental addresses put the house number last, British/Irish/US ones first.
    addr1 = f"{street} {number}" if ctry in ("DE", "NL") else f"{number} {street}"
    addr2 = rng.choice(extra_lines) if rng.random() < 0.35 else ""
    credit = rng.choice(_CREDIT_LIMITS)
    roll = rng.random()
    if roll < 0.12:
        balance = -rng.randint(100, 75_000)
    elif roll < 0.30:
        balance = 0
    else:
        balance = rng.randint(100, credit)
    opened = rng.randint(_FIRST_OPEN, _LAST_OPEN)
    last_order = (
        NO_DATE
        if rng.random() < 0.15
        else dt.date.fromordinal(rng.randint(opened, _LAST_ORDER)).strftime("%Y%m%d")
    )
    status = rng.choices(list(_STATUS_WEIGHTS), weights=list(_STATUS_WEIGHTS.values()))[0]
    tenths = rng.randint(580, 780)
    return Customer(
        custno=str(custno),
        cust_name=pad(name, NAME_WIDTH),
        addr_line1=pad(addr1, ADDR_WIDTH),
        addr_line2=pad(addr2, ADDR_WIDTH),
        city=pad(rng.choice(cities), CITY_WIDTH),
        post_cd=pad(_post_code(rng, ctry), POST_CD_WIDTH),
        ctry_cd=ctry,
        bal_cents=balance,
        credit_lim_cents=credit,
        open_dt=dt.date.fromordinal(opened).strftime("%Y%m%d"),
        last_ord_dt=last_order,
        stat_cd=status,
        vip_flg="Y" if rng.random() < 0.1 else "N",
        height_in=Decimal(f"{tenths // 10}.{tenths % 10}"),
    )


_PINNED_EXTRAS: Final = {
    "10000001": {
        "birth_dt": "620704",
        "upd_ts": "20240611143005",
        "pref_call_tm": "093000",
        "measure_rec": to_base64(
            Measurements(
                "10000001", dt.date(2024, 6, 11), "S", Decimal("36.5"), Decimal("30.0"),
                Decimal("31.5"), Decimal("24.0"), 2, "LEFT SHOULDER LOW",
            )
        ),
    }
}  # fmt: skip
_NOTES: Final = (
    "", "", "", "LEFT SHOULDER LOW", "PREFERS LONG JACKETS", "SHORT RIGHT ARM", "NO TURN-UPS",
    "SLIGHT STOOP", "WAISTBAND EXTRA 1IN",
)  # fmt: skip
_FIRST_UPDATE: Final = dt.datetime(2020, 1, 1)


def _half_inches(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low * 2, high * 2)) / 2


def _extras(rng: random.Random, customer: Customer) -> dict[str, str]:
    """The fields added to the record later in its life, from their own random stream."""
    birth = " " * 6
    if rng.random() >= 0.2:
        born = dt.date(rng.randint(1930, 2005), rng.randint(1, 12), rng.randint(1, 28))
        birth = born.strftime("%y%m%d")
    updated = _FIRST_UPDATE + dt.timedelta(seconds=rng.randint(0, 5 * 365 * 86400 - 1))
    call = "000000"
    if rng.random() >= 0.4:
        call = f"{rng.randint(8, 19):02d}{rng.choice((0, 15, 30, 45)):02d}00"
    taken = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randint(0, 30 * 365 - 1))
    measurements = Measurements(
        customer.custno, taken, rng.choice("SRC"), _half_inches(rng, 32, 50),
        _half_inches(rng, 26, 46), _half_inches(rng, 26, 36), _half_inches(rng, 22, 27),
        rng.randint(0, 5), rng.choice(_NOTES),
    )  # fmt: skip
    return {
        "birth_dt": birth,
        "upd_ts": updated.strftime("%Y%m%d%H%M%S"),
        "pref_call_tm": call,
        "measure_rec": to_base64(measurements),
    }


def generate_customers(count: int = DEFAULT_COUNT, seed: int = DEFAULT_SEED) -> list[Customer]:
    """``count`` customers with CUSTNOs from ``10000001`` upward; same seed, same data."""
    return list(_generate(count, seed))


# Generation costs ~30 ms and every server instance wants the same data; records are
# frozen, so one generated tuple can safely seed any number of stores.
@functools.cache
def _generate(count: int, seed: int) -> tuple[Customer, ...]:
    rng = random.Random(seed)
    customers = list(_PINNED[:count])
    customers.extend(_random_customer(rng, FIRST_CUSTNO + i) for i in range(len(customers), count))
    # A stream of its own, so that the older fields keep their values for any count.
    later = random.Random(seed + 1)
    return tuple(
        _with_extras(c, _PINNED_EXTRAS.get(c.custno) or _extras(later, c)) for c in customers
    )


def _with_extras(customer: Customer, extras: dict[str, str]) -> Customer:
    return dataclasses.replace(
        customer,
        birth_dt=extras["birth_dt"],
        upd_ts=extras["upd_ts"],
        pref_call_tm=extras["pref_call_tm"],
        measure_rec=extras["measure_rec"],
    )
