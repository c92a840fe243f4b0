"""Indicator definitions of an audit, read from its definition file."""

from __future__ import annotations

from audits.registry import get_definition
from indicators.definitions import IndicatorDefinition, parse_indicators


def indicators_for(audit_code: str) -> list[IndicatorDefinition]:
    return parse_indicators(get_definition(audit_code))


def indicator(audit_code: str, code: str) -> IndicatorDefinition:
    for item in indicators_for(audit_code):
        if item.code == code:
            return item
    known = ", ".join(i.code for i in indicators_for(audit_code))
    raise KeyError(f"unknown indicator {code!r} for {audit_code} (known: {known})")
