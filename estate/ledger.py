"""The demo "ledger": a legacy accounting database in SQLite, reached by the gateway over ODBC.

It imitates a bookkeeping system that grew on a mainframe: upper-case column names,
CHAR-padded text, dates as CHAR(8) ``YYYYMMDD`` (eight spaces when none), times as CHAR(6),
money as DECIMAL (which SQLite keeps as text, losing trailing zeros: the mapping restores
the scale) and as integer cents, one-letter codes, and a debit/credit flag instead of signs.

``ACCOUNTS`` holds one or more accounts for each customer of the customer master
(``CUSTNO`` links them); ``POSTINGS`` holds their bookings. Everything is generated from a
seed, so every ledger file is the same. Pinned for tests: account ``DE00000001`` of customer
``10000001`` (MULLER, ANNA), a EUR current account opened 1987-03-15 whose first posting is
an opening deposit of 1,500.00.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path
from typing import Final

ACCOUNT_COUNT: Final = 2_000
POSTING_COUNT: Final = 12_000
SEED: Final = 19870315
FIRST_CUSTNO: Final = 10000001
CUSTOMERS: Final = 1_200

SCHEMA: Final = """
CREATE TABLE ACCOUNTS (
    ACCT_NO    CHAR(10) PRIMARY KEY,
    CUSTNO     CHAR(8)  NOT NULL,
    ACCT_TYPE  CHAR(1)  NOT NULL,      -- C current, S savings, L loan
    CCY        CHAR(3)  NOT NULL,
    BAL        DECIMAL(13,2) NOT NULL,
    OD_LIMIT   DECIMAL(13,2),          -- overdraft limit; NULL when none
    OPEN_DT    CHAR(8)  NOT NULL,
    CLOSE_DT   CHAR(8)  NOT NULL,      -- eight spaces while open
    STATUS     CHAR(1)  NOT NULL       -- A active, B blocked, C closed
);
CREATE INDEX ACCOUNTS_CUSTNO ON ACCOUNTS (CUSTNO);
CREATE TABLE POSTINGS (
    POST_ID    INTEGER PRIMARY KEY,
    ACCT_NO    CHAR(10) NOT NULL REFERENCES ACCOUNTS (ACCT_NO),
    POST_DT    CHAR(8)  NOT NULL,
    POST_TM    CHAR(6)  NOT NULL,
    AMT_CENTS  INTEGER  NOT NULL,      -- always positive; DC_FLG gives the direction
    DC_FLG     CHAR(1)  NOT NULL,      -- D debit, C credit
    BOOK_TXT   CHAR(30) NOT NULL,
    REF_NO     CHAR(12) NOT NULL
);
CREATE INDEX POSTINGS_ACCT ON POSTINGS (ACCT_NO, POST_DT, POST_ID);
"""

_TEXTS: Final = (
    "CARD PAYMENT", "STANDING ORDER", "TRANSFER IN", "TRANSFER OUT", "CASH DEPOSIT",
    "INTEREST", "ACCOUNT FEE", "TAILORING ORDER", "REFUND", "DIRECT DEBIT",
)  # fmt: skip
_FIRST: Final = dt.date(1987, 1, 1).toordinal()
_LAST: Final = dt.date(2024, 12, 31).toordinal()


def _pad(text: str, width: int) -> str:
    return text[:width].ljust(width)


def _accounts(rng: random.Random) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = [
        ("DE00000001", "10000001", "C", "EUR", "1234.5", "500", "19870315", " " * 8, "A"),
    ]
    for number in range(2, ACCOUNT_COUNT + 1):
        custno = str(FIRST_CUSTNO + rng.randrange(CUSTOMERS))
        kind = rng.choice("CCCSSL")
        opened = dt.date.fromordinal(rng.randint(_FIRST, _LAST - 400))
        status = rng.choices("ABC", weights=(88, 4, 8))[0]
        closed = (
            dt.date.fromordinal(rng.randint(opened.toordinal() + 30, _LAST)).strftime("%Y%m%d")
            if status == "C"
            else " " * 8
        )
        balance = rng.uniform(-2_500, 80_000) if kind != "L" else -rng.randint(1, 90) * 1000.0
        limit = None if kind != "C" else rng.choice((None, "1000", "2500", "500.5"))
        rows.append(
            (
                f"{rng.choice(('DE', 'GB', 'FR'))}{number:08d}",
                custno,
                kind,
                rng.choice(("EUR", "EUR", "EUR", "GBP", "USD")),
                # As SQLite keeps a DECIMAL: as text, trailing zeros of the cents dropped.
                f"{balance:.2f}".rstrip("0").rstrip("."),
                limit,
                opened.strftime("%Y%m%d"),
                closed,
                status,
            )
        )
    return rows


def _postings(rng: random.Random, accounts: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = [
        (1, "DE00000001", "19870315", "101500", 150000, "C", _pad("OPENING DEPOSIT", 30),
         "REF000000001"),
    ]  # fmt: skip
    for post_id in range(2, POSTING_COUNT + 1):
        account = accounts[rng.randrange(len(accounts))]
        opened = dt.datetime.strptime(str(account[6]), "%Y%m%d").date()
        day = dt.date.fromordinal(rng.randint(opened.toordinal(), _LAST))
        seconds = rng.randint(6 * 3600, 22 * 3600)
        rows.append(
            (
                post_id,
                account[0],
                day.strftime("%Y%m%d"),
                f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}",
                rng.randint(100, 250_000),
                rng.choice("DDDC"),
                _pad(rng.choice(_TEXTS), 30),
                f"REF{post_id:09d}",
            )
        )
    return rows


def create_ledger(path: Path | str, *, replace: bool = False) -> Path:
    """Write the ledger database to ``path`` (kept as is when it exists, unless ``replace``)."""
    target = Path(path)
    if target.exists() and not replace:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    rng = random.Random(SEED)
    accounts = _accounts(rng)
    postings = _postings(rng, accounts)
    with sqlite3.connect(partial) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT INTO ACCOUNTS VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", accounts)
        db.executemany("INSERT INTO POSTINGS VALUES (?, ?, ?, ?, ?, ?, ?, ?)", postings)
    db.close()
    partial.replace(target)  # a half-written ledger is never seen under the real name
    return target
