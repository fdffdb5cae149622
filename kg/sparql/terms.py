"""RDF terms as Python values: what ``KnowledgeGraph.query`` and the terminal table show."""

from __future__ import annotations

import datetime
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox

from common.vocab import RDF_LANG_STRING, XSD


def _date(text: str):
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return text


def _datetime(text: str):
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text


def _decimal(text: str):
    try:
        return Decimal(text)
    except InvalidOperation:
        return text


def _integer(text: str):
    try:
        return int(text)
    except ValueError:
        return text


def _double(text: str):
    try:
        return float(text)
    except ValueError:
        return text


_CONVERTERS = {
    XSD + "integer": _integer, XSD + "int": _integer, XSD + "long": _integer,
    XSD + "short": _integer, XSD + "nonNegativeInteger": _integer,
    XSD + "positiveInteger": _integer, XSD + "decimal": _decimal, XSD + "double": _double,
    XSD + "float": _double, XSD + "boolean": lambda t: t in ("true", "1"),
    XSD + "date": _date, XSD + "dateTime": _datetime, XSD + "string": str,
    RDF_LANG_STRING: str,
}


def to_python(term):
    """IRI -> ``str``; literal -> int/Decimal/float/bool/date/datetime/str; blank -> ``_:id``."""
    kind = type(term)
    if kind is ox.NamedNode:
        return term.value
    if term is None:
        return None
    if kind is ox.Literal:
        convert = _CONVERTERS.get(term.datatype.value)
        return convert(term.value) if convert else term.value
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    return str(term)


