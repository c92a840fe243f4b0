"""Writes: importing an extract as a release, withdrawing a release, running an import job, reading
patient rows.

One service, ``import_extract``, checks and stores an extract for every door (the command line
directly, the web and the API through an import job). Each service takes the ``Actor`` (who acts,
through which door), checks the role itself (``accounts.roles``) and writes the audit log inside its
own transaction: views, API views and commands only translate.

- ``access``: who may upload, publish or withdraw, and the origin a door gives a release;
- ``uploads``: an uploaded file's size limit and its storage until its import ends;
- ``imports``: checking and storing an extract as a release (``import_extract``, ``ImportOutcome``);
- ``releases``: publishing a draft release, withdrawing a release, reading its patient rows;
- ``jobs``: import jobs, created, run and recovered (``reap_import_jobs``).

The doors import what they use from here.
"""

from audits.services.access import authorise_publish, authorise_upload, authorise_withdraw
from audits.services.imports import ImportOutcome, import_extract, sync_audit
from audits.services.jobs import create_import_job, reap_import_jobs, run_import_job
from audits.services.releases import (
    AlreadyWithdrawn,
    NotPublishable,
    publish_release,
    read_patient_rows,
    withdraw_release,
)
from audits.services.uploads import ExtractTooLarge, check_extract_size

__all__ = [
    "AlreadyWithdrawn",
    "ExtractTooLarge",
    "ImportOutcome",
    "NotPublishable",
    "authorise_publish",
    "authorise_upload",
    "authorise_withdraw",
    "check_extract_size",
    "create_import_job",
    "import_extract",
    "publish_release",
    "read_patient_rows",
    "reap_import_jobs",
    "run_import_job",
    "sync_audit",
    "withdraw_release",
]
