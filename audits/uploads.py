"""Uploaded extracts over MAX_EXTRACT_BYTES are not kept: their bytes are counted, not written to disk."""

from __future__ import annotations

from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import FileUploadHandler


class ExtractSizeLimit(FileUploadHandler):
    """The first upload handler (settings.FILE_UPLOAD_HANDLERS): passes a file's bytes on to the next ones
    (memory, then a temporary file) until they pass MAX_EXTRACT_BYTES; from then on they are only counted.
    Such an upload becomes an empty placeholder with the size that was sent, which the upload form and the
    API's serializer refuse naming the limit. A request whose body is plainly too large passes nothing on."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        fields = settings.DATA_UPLOAD_MAX_MEMORY_SIZE  # the most the other form fields may take
        self.body_too_large = fields is not None and content_length > settings.MAX_EXTRACT_BYTES + fields + (1 << 20)

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.received = 0
        self.over = self.body_too_large

    def receive_data_chunk(self, raw_data, start):
        self.received = start + len(raw_data)
        self.over = self.over or self.received > settings.MAX_EXTRACT_BYTES
        return None if self.over else raw_data

    def file_complete(self, file_size):
        if not self.over:
            return None  # the next handler's file
        placeholder = SimpleUploadedFile(self.file_name or "extract.csv", b"", self.content_type or "text/csv")
        placeholder.size = self.received  # what was sent; its bytes were not kept
        return placeholder
