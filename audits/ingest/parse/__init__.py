"""Validate an audit extract: bytes in, typed Arrow batches and a row-level error report out.

Pure: no Django, no database. Validation is vectorised per batch with
pyarrow.compute; nothing loops over rows except to format the (at most 100)
reported errors. Line numbers count the header as line 1.

``ExtractParser`` (``parser``) drives the reading; its phases are modules of their own: the checked bytes
(``stream``), the header line (``header``), the values to their column types (``convert``), the checks across
columns (``rules``), the errors and the report (``report``), trust codes and their mergers (``providers``), a
unique column's repeats (``unique``), rows with the wrong number of fields (``structure``) and the data-quality
report (``quality``).
"""

from audits.ingest.parse.parser import ExtractParser
from audits.ingest.parse.providers import ProviderLookup
from audits.ingest.parse.report import ExtractRejected, ParseReport, RowError, TypedReadFailed

__all__ = ["ExtractParser", "ExtractRejected", "ParseReport", "ProviderLookup", "RowError", "TypedReadFailed"]
