"""Leases on work in progress (import jobs, indicators of a computation run): who holds it, until when.

A process that starts a job claims it: one conditional UPDATE sets it running, counts the attempt, stamps
``heartbeat_at`` and names the process (``owner``, host:pid). While it works it renews ``heartbeat_at``.
A job is lost when its holder is gone: the holder is a process on this host that no longer exists, or
the lease (``JOB_LEASE_SECONDS``) has run out and the holder is not a live process on this host, or
nothing renewed it for longer than a task may run at all (``CELERY_TASK_TIME_LIMIT``). The reapers
(``audits.services.reap_import_jobs``, ``indicators.services.reap_runs``) run lost jobs again, or fail
them after ``JOB_MAX_ATTEMPTS`` with the reason; a redelivered task message takes a lost job over itself.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone


class LeaseLost(Exception):
    """Another process took the work over while this one ran it: this one's work is rolled back."""


def owner_id() -> str:
    """This process, as a job's holder: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive_here(owner: str) -> bool | None:
    """True or False for a process on this host; None for one elsewhere (only its lease tells)."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    if int(pid) == os.getpid():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: it exists
        return True
    return True


def is_lost(heartbeat_at: datetime | None, owner: str, now: datetime | None = None) -> bool:
    """Whether running work held by ``owner`` (last renewed at ``heartbeat_at``) has lost its holder."""
    if heartbeat_at is None:
        return True  # never renewed: left by a process from before leases
    now = now or timezone.now()
    alive = _alive_here(owner) if owner else None
    if alive is False:
        return True
    if now - heartbeat_at > timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + settings.JOB_LEASE_SECONDS):
        return True  # no task runs that long: a live process with this id is another one
    return alive is None and now - heartbeat_at > timedelta(seconds=settings.JOB_LEASE_SECONDS)


def queued_too_long(queued_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether work still queued has waited so long that its message was lost (or, in-process, its process).

    With a broker the message waits in the queue however long the workers are busy, so only a message
    that never reached it (the process stopped between its commit and the send) is lost: waited on for
    the broker's visibility timeout. In-process there is no queue: one lease.
    """
    if queued_at is None:
        return True
    wait = (
        settings.JOB_LEASE_SECONDS
        if settings.CELERY_TASK_ALWAYS_EAGER
        else settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"]
    )
    return (now or timezone.now()) - queued_at > timedelta(seconds=wait)


def lost(work: Any, now: datetime | None = None) -> bool:
    """Whether queued or running work (an import job, a run's indicator) has lost its process: a queued one
    whose message was lost (``queued_too_long``), a running one whose holder is gone (``is_lost``)."""
    if work.status == work.Status.QUEUED:
        return queued_too_long(work.heartbeat_at, now)
    return work.status == work.Status.RUNNING and is_lost(work.heartbeat_at, work.owner, now)


def claim(as_seen: QuerySet[Any], work: Any, running: str, now: datetime) -> bool:
    """Take ``work`` (an import job or a run's indicator) for this process in one conditional UPDATE of its row
    as this process read it (``as_seen``): running, held here, renewed now, one more attempt. False if another
    process moved first. On success ``work`` carries the new values."""
    fields = {
        "status": running,
        "attempts": work.attempts + 1,
        "heartbeat_at": now,
        "owner": owner_id(),
        "started_at": now,
    }
    if not as_seen.update(**fields):
        return False
    for name, value in fields.items():
        setattr(work, name, value)
    return True
