"""The outlier process's pages (issue 13): the cases a reader may see, one case with its result, stage,
history and the outcomes the reader may record, the trust's patient rows behind a case, and the published
responses beside a trust's results.

Unlike the other pages, nothing here is built once per run: a case changes between runs, so its pieces are
read per request (a handful of rows). Who sees what is ``outliers.access``; what may be done is decided by
``outliers.services`` (``advance``) and ``outliers.responses`` (``publish_response``), whatever door calls them.
"""

from dashboards.pages.outliers.case import (
    ATTACHMENT_MAX_BYTES,
    ATTACHMENT_SUFFIXES,
    CasePage,
    attachment_name,
    attachment_of,
    attachment_problem,
    case_page,
    visible_case,
)
from dashboards.pages.outliers.cases import CASES_CSV, CaseList, CaseRow, case_list
from dashboards.pages.outliers.common import OWNERS, due_words, words
from dashboards.pages.outliers.responses import PublishedResponse, published_responses
from dashboards.pages.outliers.rows import ROWS_PER_PAGE, ROWS_PER_READ, all_trust_rows, rows_case

__all__ = [
    "ATTACHMENT_MAX_BYTES",
    "ATTACHMENT_SUFFIXES",
    "CASES_CSV",
    "OWNERS",
    "ROWS_PER_PAGE",
    "ROWS_PER_READ",
    "CaseList",
    "CasePage",
    "CaseRow",
    "PublishedResponse",
    "all_trust_rows",
    "attachment_name",
    "attachment_of",
    "attachment_problem",
    "case_list",
    "case_page",
    "due_words",
    "published_responses",
    "rows_case",
    "visible_case",
    "words",
]
