"""Hostile and broken files, as analysts' exports and accidents produce them: every one gets a JSON
report from ``import_extract --json`` (exit 1, or 0 if accepted), never a traceback, and nothing is stored.
The files are made here, in code; the work and memory of a refusal stay bounded."""

from __future__ import annotations

import gzip
import io
import json
import re
import statistics
import time
import tracemalloc
import zipfile
from datetime import date

import pytest

from audits.ingest.parse import ExtractParser, ProviderLookup
from tests.audits.test_parse import BOWEL
from tests.conftest import FIXTURES, run_command

VALID = (FIXTURES / "bowel" / "valid.csv").read_bytes()
HEADER, _, ROWS = VALID.partition(b"\n")
FIRST = ROWS.split(b"\n")[0]


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as book:
        book.writestr("[Content_Types].xml", "<Types/>")
        book.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return buffer.getvalue()


# name: (file bytes, accepted?, a phrase of the first error's message)
HOSTILE: dict[str, tuple[bytes, bool, str]] = {
    "header field over 128 KB": (b'"' + b"x" * 200_000 + b'",' + VALID, False, "over 128 KB"),
    "no line break at all": (HEADER.replace(b",", b";") * 3, False, "is missing from the header"),
    "header only, no line break": (HEADER, False, "only one line (no line break)"),
    "cr-only line endings": (VALID.replace(b"\n", b"\r"), True, ""),
    "bom and cr-only": (b"\xef\xbb\xbf" + VALID.replace(b"\n", b"\r"), True, ""),
    "mixed crlf and cr": (VALID.replace(b"\n", b"\r\n", 2).replace(b"\n", b"\r"), True, ""),
    "wrong field count and a huge field": (
        HEADER + b"\n" + b'"' + b"y" * 200_000 + b'"' + FIRST[4:] + b"\nP9,R0A\n",
        False,
        "this line has 2 fields",
    ),
    "nul in a text value": (VALID.replace(b"P003", b"P0\x0003"), False, "NUL byte"),  # PostgreSQL refuses it
    "nul in the header": (VALID.replace(b"age", b"a\x00ge", 1), False, "control characters"),
    "utf-16 with bom": (VALID.decode().encode("utf-16"), False, "UTF-16"),
    "utf-16 without bom": (VALID.decode().encode("utf-16-le"), False, "UTF-16"),
    "windows-1252": (VALID.replace(b"P003", b"P\xe903"), False, "not valid UTF-8"),
    "a quote never closed in the header": (HEADER[:-3] + b'"' + HEADER[-3:] + b"\n" + ROWS, False, "not closed"),
    "a quote never closed": (VALID.replace(b"P003", b'"P003'), False, "fields but the header has 17"),
    "only blank lines": (b"\n\n\n\r\n", False, "empty"),
    "header only": (HEADER + b"\n", False, "a header but no rows"),
    "header of 10,000 columns": (b",".join(b"c%d" % i for i in range(10_000)) + b"\n1\n", False, "missing"),
    "duplicate header name": (HEADER.replace(b"sex", b"age") + b"\n" + ROWS, False, "appears twice"),
    "empty header name": (HEADER + b",\n" + ROWS.replace(b"\n", b",\n"), False, "has no name"),
    "a 2 MB header line": (b"x" * (2 << 20) + b"\n" + ROWS, False, "longer than 1 MB"),
    "a line longer than 8 MB": (VALID + FIRST.replace(b"P001", b"P" + b"1" * (9 << 20)) + b"\n", False, "8 MB"),
    "gzip": (gzip.compress(VALID), False, "gzip-compressed"),
    "zip": (b"PK\x05\x06" + bytes(18), False, "zip file"),
    "xlsx": (_xlsx(), False, "Excel workbook (.xlsx)"),
    "binary starting with a nul": (bytes(range(256)) * 64, False, "control characters"),
    "binary": (bytes(range(1, 256)) * 64, False, "control characters"),
    "binary after a text line": (HEADER + b"\n" + bytes(range(1, 256)) * 64, False, "not valid UTF-8"),
}


def line_count(data: bytes) -> int:
    """Lines as a reader sees them: LF, CRLF and a lone CR each end one."""
    return len(re.split(rb"\r\n|\r|\n", data.rstrip(b"\r\n"))) if data else 0


@pytest.mark.django_db
@pytest.mark.parametrize("name", HOSTILE)
def test_every_hostile_file_gets_a_json_report_and_stores_nothing_refused(orgs, table_counts, tmp_path, name):
    data, accepted, phrase = HOSTILE[name]
    path = tmp_path / "extract.csv"
    path.write_bytes(data)
    before = table_counts()
    code, out, err = run_command("import_extract", str(path), audit="bowel", extract_date="2025-03-31", json=True)
    assert "Traceback" not in out + err
    report = json.loads(out)
    if accepted:
        assert (code, report["status"], report["rows"], report["errors"]) == (0, "accepted", 4, [])
        return
    assert code == 1 and report["status"] == "rejected" and report["release"] is None
    assert report["error_count"] >= len(report["errors"]) >= 1
    assert phrase in report["errors"][0]["message"]
    assert all(e["line"] is None or 1 <= e["line"] <= max(line_count(data), 1) for e in report["errors"])
    assert table_counts() == before


@pytest.mark.django_db
def test_a_file_over_the_size_limit_is_refused_before_it_is_read(orgs, table_counts, tmp_path, settings):
    settings.MAX_EXTRACT_BYTES = len(VALID) - 1
    path = tmp_path / "extract.csv"
    path.write_bytes(VALID)
    before = table_counts()
    code, out, _ = run_command("import_extract", str(path), audit="bowel", extract_date="2025-03-31", json=True)
    report = json.loads(out)
    assert code == 1 and report["error_count"] == 1
    assert report["errors"][0]["message"] == (
        f"the file is {len(VALID):,} bytes, over the limit of {len(VALID) - 1:,} bytes for an extract "
        "(MAX_EXTRACT_BYTES): split the extract, or ask the administrator to raise the limit"
    )
    assert table_counts() == before


# -- bounded work and memory -----------------------------------------------------------------------
def parse(data: bytes):
    """The validator alone (no database), with the fixture's trusts."""
    parser = ExtractParser(BOWEL, date(2025, 3, 31), ProviderLookup(current=frozenset({"R0A", "RM3", "R0B", "R0D"})))
    list(parser.batches(io.BytesIO(data)))
    return parser.finish()


def median_seconds(data: bytes, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        parse(data)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_work_on_a_file_without_line_breaks_does_not_grow_with_its_size():
    """The header is read with a bounded line read: 32 MB of one line costs what 8 MB does (it was
    quadratic: 29 s for 80 MB)."""
    small, large = median_seconds(b"a" * (8 << 20)), median_seconds(b"a" * (32 << 20))
    assert large < 6 * small + 0.05, (small, large)


@pytest.mark.slow
def test_work_on_rows_with_the_wrong_field_count_is_linear():
    rows = b"x,y\n" * 50_000
    small, large = median_seconds(VALID + rows), median_seconds(VALID + rows * 4)
    assert large < 6 * small + 0.05, (small, large)


def test_memory_stays_bounded_with_200000_malformed_rows():
    data = VALID + b"x,y\n" * 200_000
    tracemalloc.start()
    try:
        report = parse(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.error_count == 200_000 and len(report.errors) == 100
    assert report.errors[0].line == 6 and report.errors[-1].line == 105
    assert peak < 50 << 20, peak


@pytest.mark.django_db
@pytest.mark.parametrize("door", ["web", "api"])
def test_an_upload_over_the_size_limit_is_refused_naming_the_limit_and_not_stored(
    client, settings, tmp_path, orgs, table_counts, door
):
    from django.contrib.auth.models import Group, User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from accounts.services import create_token
    from audits.registry import get_definition
    from audits.services import sync_audit

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAX_EXTRACT_BYTES = len(VALID) - 1
    sync_audit(get_definition("bowel"))
    user = User.objects.create_user("uploader")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    upload = SimpleUploadedFile("extract.csv", VALID)
    limit = f"The file is {len(VALID):,} bytes, over the limit of {len(VALID) - 1:,} bytes for an extract"
    if door == "web":
        client.force_login(user)
        before = table_counts()
        response = client.post(reverse("upload", args=["bowel"]), {"file": upload, "extract_date": "2025-03-31"})
        assert response.status_code == 200
        assert limit in response.content.decode()
    else:
        _, key = create_token(user=user, name="pipeline", via="cli")
        before = table_counts()
        response = client.post(
            reverse("api:import-list"),
            {"audit": "bowel", "extract_date": "2025-03-31", "file": upload},
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
        assert response.status_code == 400
        assert response.json()["file"][0].startswith(limit)
    assert table_counts() == before
    assert not [p for p in (tmp_path / "media").rglob("*") if p.is_file()]


def test_an_upload_over_the_limit_is_counted_not_kept(settings):
    """The bytes past the limit are not passed on to the handlers that keep them (memory, temporary file)."""
    from audits.uploads import ExtractSizeLimit

    settings.MAX_EXTRACT_BYTES = 100
    handler = ExtractSizeLimit()
    handler.handle_raw_input(None, {}, 1000, b"boundary")
    handler.new_file("file", "extract.csv", "text/csv", None)
    assert handler.receive_data_chunk(b"x" * 60, 0) == b"x" * 60
    assert handler.receive_data_chunk(b"x" * 60, 60) is None
    assert handler.receive_data_chunk(b"x" * 60, 120) is None
    placeholder = handler.file_complete(180)
    assert (placeholder.size, placeholder.read()) == (180, b"")

    handler.handle_raw_input(None, {}, 100 + settings.DATA_UPLOAD_MAX_MEMORY_SIZE + (2 << 20), b"boundary")
    handler.new_file("file", "extract.csv", "text/csv", None)
    assert handler.receive_data_chunk(b"x" * 60, 0) is None  # the body alone is over the limit


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["header field over 128 KB", "nul in a text value"])
def test_the_api_answers_a_hostile_upload_with_its_report(client, settings, tmp_path, orgs, name):
    """These crashed the import (the job failed, or COPY aborted): the answer is now 422 and the report."""
    from django.contrib.auth.models import Group, User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.urls import reverse

    from accounts.services import create_token
    from audits.registry import get_definition
    from audits.services import sync_audit

    settings.MEDIA_ROOT = tmp_path / "media"
    sync_audit(get_definition("bowel"))
    user = User.objects.create_user("uploader")
    user.groups.add(Group.objects.get(name="analysts:bowel"))
    _, key = create_token(user=user, name="pipeline", via="cli")
    data, _, phrase = HOSTILE[name]
    response = client.post(
        reverse("api:import-list"),
        {"audit": "bowel", "extract_date": "2025-03-31", "file": SimpleUploadedFile("extract.csv", data)},
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 422, response.content
    result = response.json()["result"]
    assert result["status"] == "rejected" and phrase in result["errors"][0]["message"]
