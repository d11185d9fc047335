"""XML attributes in answers: read only for mappings that name one, as ``@name`` / ``#text``."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from gateway.mapping.records import OutputMapper, reads_attributes
from gateway.mapping.spec import OutputSpec
from gateway.mapping.xml import element_to_value, element_to_value_with_attributes

DOCUMENT = (
    b'<R xmlns="urn:x" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="7" '
    b'xsi:schemaLocation="urn:x x.xsd"><A currency="EUR">12.50</A><B>x</B><B k="1"/>'
    b'<C xsi:nil="true" u="m"/><D/><E xsi:type="xs:string">plain</E></R>'
)
SPEC = {
    "fields": {
        "id": {"from": "@id", "type": "integer"},
        "amount": {
            "from": "A",
            "fields": {
                "currency": {"from": "@currency"},
                "value": {"from": "#text", "type": "decimal"},
            },
        },
        "amount_alone": {"from": "A", "type": "decimal"},
        "currency": {"from": "A.@currency"},
        "unit": {"from": "C", "fields": {"u": {"from": "@u"}, "value": {"from": "#text"}}},
        "e": {"from": "E"},
    }
}


def test_attributes_are_keys_beside_children_and_a_leaf_with_them_keeps_its_text() -> None:
    root = etree.fromstring(DOCUMENT)
    assert element_to_value_with_attributes(root) == {
        "@id": "7",
        "A": {"@currency": "EUR", "#text": "12.50"},
        "B": ["x", {"@k": "1", "#text": ""}],
        "C": {"@u": "m", "#text": None},
        "D": "",
        "E": "plain",  # xsi: attributes are markup, not data
    }
    # Without attributes named by the mapping, the values are what they always were.
    plain = {"A": "12.50", "B": ["x", ""], "C": None, "D": "", "E": "plain"}
    assert element_to_value(root) == plain


def test_a_mapping_reads_attributes_and_an_element_without_them_as_its_text() -> None:
    mapper = OutputMapper(OutputSpec.model_validate(SPEC))
    assert mapper.reads_attributes
    full = element_to_value_with_attributes(etree.fromstring(DOCUMENT))
    assert mapper(full) == {
        "id": 7,
        "amount": {"currency": "EUR", "value": 12.5},
        "amount_alone": 12.5,
        "currency": "EUR",
        "unit": {"u": "m", "value": None},
        "e": "plain",
    }
    bare = element_to_value_with_attributes(etree.fromstring(b"<R><A>3</A><E>q</E></R>"))
    assert mapper(bare) == {
        "id": None,
        "amount": {"currency": None, "value": 3},
        "amount_alone": 3,
        "currency": None,
        "unit": None,
        "e": "q",
    }


def test_only_mappings_that_name_an_attribute_read_them() -> None:
    def reads(spec: dict[str, Any]) -> bool:
        return reads_attributes(OutputSpec.model_validate(spec))

    assert not reads({"fields": {"a": {"from": "A.B"}, "n": {"from": "N", "fields": {"x": {}}}}})
    assert reads({"fields": {"n": {"from": "N", "fields": {"x": {"from": '"@x"'}}}}})
    assert reads({"from": "R.#text"})
    assert not reads({"xpath": "/R", "fields": {"x": {"xpath": "@x"}}})
    assert not reads({"fields": {"rate": {"from": "@"}}})  # JMESPath's current node


names = st.sampled_from(["A", "B", "C"])


@st.composite
def elements(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    element = etree.Element(draw(names))
    if depth < 3 and draw(st.booleans()):
        for _ in range(draw(st.integers(0, 3))):
            element.append(draw(elements(depth + 1)))
    else:
        element.text = draw(st.one_of(st.none(), st.text("xy ", max_size=3)))
    return element


@given(elements())
def test_a_document_without_attributes_reads_the_same_either_way(root: etree._Element) -> None:
    assert element_to_value_with_attributes(root) == element_to_value(root)
