"""A REST/JSON face of the customer master, as a later-era legacy system would have.

``GET /crm/customers/{CUSTNO}`` answers the customer record as JSON with the mainframe's
field names and padding (``?format=xml`` as XML); ``POST /crm/customers/{CUSTNO}/notes``
with ``{"NOTE_TXT": ..., "AUTHOR": ...}`` files a contact note and answers 201 with its
``NOTE_ID``; ``POST /crm/lookup`` with ``{"CUSTNO": ...}`` answers the record too (for
clients that only POST JSON). Unknown customers are 404 with
``{"ERR_CD": "E404", "ERR_TXT": ...}``. The gateway's HTTP adapter and the throughput
benchmark call it.
"""

from __future__ import annotations

import itertools
import re
from typing import Any, Final

import orjson
from lxml import etree

from estate.customers import FIELD_NAMES, CustomerStore

PREFIX: Final = "/crm/customers/"
_JSON: Final = "application/json"
_PATH = re.compile(r"^/crm/customers/([0-9]{1,12})(/notes)?$")


class CrmRest:
    def __init__(self, store: CustomerStore) -> None:
        self.store = store
        self.notes: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def handles(self, path: str) -> bool:
        return path.startswith(PREFIX) or path == "/crm/lookup"

    def _lookup(self, body: bytes) -> tuple[int, str, bytes]:
        try:
            custno = str(orjson.loads(body).get("CUSTNO", ""))
        except (orjson.JSONDecodeError, AttributeError):
            return _error(400, "E400", 'BODY MUST BE {"CUSTNO": ...}')
        return self.get(f"{PREFIX}{custno}", b"")

    def get(self, path: str, query: bytes) -> tuple[int, str, bytes]:
        match = _PATH.match(path)
        if match is None or match.group(2):
            return _error(404, "E404", "no such resource")
        customer = self.store.get(match.group(1))
        if customer is None:
            return _error(404, "E404", f"CUSTOMER {match.group(1)} NOT ON FILE")
        record = dict(zip(FIELD_NAMES, customer.wire_values(), strict=True))
        if b"format=xml" in query:
            root = etree.Element("CUSTOMER")
            for name, value in record.items():
                etree.SubElement(root, name).text = value
            return 200, "application/xml", etree.tostring(root, xml_declaration=True)
        return 200, _JSON, orjson.dumps(record)

    def post(self, path: str, body: bytes) -> tuple[int, str, bytes]:
        if path == "/crm/lookup":
            return self._lookup(body)
        match = _PATH.match(path)
        if match is None or not match.group(2):
            return _error(405, "E405", "only notes can be filed")
        if self.store.get(match.group(1)) is None:
            return _error(404, "E404", f"CUSTOMER {match.group(1)} NOT ON FILE")
        try:
            note = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _error(400, "E400", "BODY IS NOT JSON")
        if not isinstance(note, dict) or not str(note.get("NOTE_TXT", "")).strip():
            return _error(400, "E400", "NOTE_TXT IS REQUIRED")
        note_id = f"N{next(self._ids):07d}"
        self.notes.append({"NOTE_ID": note_id, "CUSTNO": match.group(1), **note})
        return 201, _JSON, orjson.dumps({"NOTE_ID": note_id, "STATUS": "FILED"})


def _error(status: int, code: str, text: str) -> tuple[int, str, bytes]:
    return status, _JSON, orjson.dumps({"ERR_CD": code, "ERR_TXT": text})
