"""The levels an indicator is published at, and England's code: pure, so the engine, the models, the API and
the pages share one owner (docs/glossary.md).

``provider`` is an NHS trust (the extracts' word), ``alliance`` a Cancer Alliance, ``national`` England as a
whole, whose organisation code is the ONS code of the country (E92000001).
"""

from __future__ import annotations

PROVIDER = "provider"
ALLIANCE = "alliance"
NATIONAL = "national"
#: In the order they are computed and shown: trust, alliance, England.
LEVELS = (PROVIDER, ALLIANCE, NATIONAL)
#: The organisation code of the national level (ONS country code for England).
ENGLAND_CODE = "E92000001"
