"""The bytes of an extract: what is plainly not a CSV file, and the checked stream Arrow reads."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

BLOCK_SIZE = 8 << 20  # also the longest line Arrow reads (a row must fit in one block)
# Files that are not CSV, by their first bytes: what to say.
_NOT_CSV = (
    (b"\x1f\x8b", "this is a gzip-compressed file, not a CSV file: unpack it and upload the CSV file inside"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "this is an Excel 97-2003 workbook (.xls), not a CSV file: in Excel, save it as CSV UTF-8",
    ),
    (b"%PDF", "this is a PDF document, not a CSV file: export the data as CSV UTF-8"),
    (b"\xfd7zXZ\x00", "this is an xz-compressed file, not a CSV file: unpack it and upload the CSV file inside"),
    (b"7z\xbc\xaf\x27\x1c", "this is a 7-Zip archive, not a CSV file: unpack it and upload the CSV file inside"),
    (b"PAR1", "this is a Parquet file, not a CSV file: export the data as CSV UTF-8"),
    (b"SQLite format 3\x00", "this is an SQLite database, not a CSV file: export the data as CSV UTF-8"),
)
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")
_EXCEL = "this is an Excel workbook (.xlsx), not a CSV file: in Excel, save it as CSV UTF-8 (Comma delimited)"
_ZIPPED = "this is a zip file, not a CSV file: unzip it and upload the CSV file inside"
SAVE_AS_UTF8 = "save it as UTF-8 (in Excel: CSV UTF-8) and upload it again"
NOT_UTF8 = "this line is not valid UTF-8 (the file looks like another encoding, e.g. Windows-1252); " + SAVE_AS_UTF8
_NUL = "this line has a NUL byte (0x00), which a CSV export never has: export the data again as CSV UTF-8"


def not_csv(head: bytes) -> str | None:
    """What a file is, from its first bytes, when it is plainly not a UTF-8 CSV file."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "the file is UTF-16; " + SAVE_AS_UTF8
    if head.startswith(_ZIP):
        return _EXCEL if b"[Content_Types].xml" in head or b"xl/" in head else _ZIPPED
    return next((message for magic, message in _NOT_CSV if head.startswith(magic)), None)


class CheckedStream(io.RawIOBase):
    """Hashes the bytes and checks they are UTF-8 without NUL bytes while pyarrow reads them.

    The checks run at C speed on each block (a decoder, ``bytes.find``); the first bad byte stops
    the reading there (pyarrow sees the end of the file) and is reported with its line.
    """

    def __init__(
        self,
        raw: IO[bytes],
        prefix: bytes,
        line_break: bytes,
        account: Callable[[bytes], None],
        stop_at: Callable[[int, int | None, bytes, str], None],
    ):
        self._raw = raw
        self._prefix = prefix
        self._account = account  # hashes and counts the bytes read
        self._report_stop = stop_at  # reports a bad byte: (line, field position or None, the byte, the message)
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._break = line_break  # b"\r" in a CR-only file, else b"\n" (the header line's ending)
        self._newlines = 1  # the header line was read before this stream starts
        self._at_line_start = True
        self._stopped = False  # a bad byte ended the reading

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        with memoryview(buffer) as view:
            data = self.read(len(view))
            view[: len(data)] = data
        return len(data)

    def read(self, size: int = -1) -> bytes:
        if self._stopped or self.closed:
            return b""
        if self._prefix:
            data, self._prefix = self._prefix, b""
        else:
            data = self._raw.read(size if size and size > 0 else BLOCK_SIZE)
        self._account(data)
        nul = data.find(b"\x00")
        try:
            # ASCII is UTF-8: with no character left open by the previous block, a block of ASCII needs no decoding
            # (bytes.isascii runs about eight times faster than the decoder).
            if self._decoder.getstate()[0] or not data.isascii():
                self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            if nul < 0 or exc.start < nul:
                line, _ = self._where(data, exc.start)  # the whole line is suspect: no column named
                self._stop_at(line, None, data[exc.start : exc.start + 1], NOT_UTF8)
                return _whole_lines(data, exc.start)
        if nul >= 0:
            self._stop_at(*self._where(data, nul), b"\x00", _NUL)
            return _whole_lines(data, nul)
        pending = self._decoder.getstate()[0]
        if pending and not self._prefix:  # the block ends inside a character: does the file end there too?
            self._prefix = self._raw.read(size if size and size > 0 else BLOCK_SIZE)
            if not self._prefix:
                position = max(len(data) - len(pending), 0)
                self._stop_at(self._where(data, position)[0], None, pending[:1], NOT_UTF8)
                return _whole_lines(data, position)
        self._newlines += data.count(self._break)
        self._at_line_start = data.endswith((b"\n", b"\r"))
        return data

    def _where(self, data: bytes, position: int) -> tuple[int, int | None]:
        """The line of a byte, and its field's position on the line (None if the line began in an earlier block)."""
        line = self._newlines + data.count(self._break, 0, position) + 1
        start = max(data.rfind(b"\n", 0, position), data.rfind(b"\r", 0, position))
        if start < 0 and not self._at_line_start:
            return line, None
        # Commas outside quotes before the byte: a quote toggles quoting, so count in every other piece.
        before = data[start + 1 : position].split(b'"')
        return line, sum(piece.count(b",") for piece in before[::2])

    def _stop_at(self, line: int, field: int | None, byte: bytes, message: str) -> None:
        self._stopped = True
        self._report_stop(line, field, byte, message)


def _whole_lines(data: bytes, position: int) -> bytes:
    """The lines of a block that end before ``position`` (Arrow reads them, then the end of the file)."""
    return data[: max(data.rfind(b"\n", 0, position), data.rfind(b"\r", 0, position)) + 1]
