"""An uploaded extract file: the size limit it must keep to, and its storage until its import ends."""

from __future__ import annotations

import logging
import os
from typing import IO

from django.conf import settings

from audits.ingest.messages import extract_too_large
from audits.models import ImportJob

logger = logging.getLogger(__name__)


class ExtractTooLarge(ValueError):
    """The file is over settings.MAX_EXTRACT_BYTES (nothing was stored); the message names the limit."""


def check_extract_size(size: int) -> None:
    """ExtractTooLarge if a file of ``size`` bytes is over the limit (forms and serializers say why)."""
    problem = extract_too_large(size, settings.MAX_EXTRACT_BYTES)
    if problem:
        raise ExtractTooLarge(problem)


def stream_size(stream: IO[bytes]) -> int | None:
    """The size of a file being imported, when it can be known without reading it."""
    try:
        return os.fstat(stream.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        pass
    if getattr(stream, "seekable", lambda: False)():
        end = stream.seek(0, os.SEEK_END)
        stream.seek(0)
        return end
    return None


def file_there(job: ImportJob) -> bool:
    return bool(job.file) and job.file.storage.exists(job.file.name or "")


def discard_upload(job: ImportJob) -> None:
    """Delete an import's uploaded file from storage and forget its path."""
    if not job.file:
        return
    try:
        job.file.delete(save=False)
    except OSError:
        logger.exception("import job %s: could not delete its uploaded file", job.pk)
        return
    ImportJob.objects.filter(pk=job.pk).update(file="")
