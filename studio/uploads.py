"""Upload size limits that act before a large body is read.

``KnowledgeUploadHandler`` goes first in a knowledge upload's handlers: when the request
announces more than KNOWLEDGE_UPLOAD_MAX_BYTES (plus room for the form fields), or a
file grows past it while streaming in (a chunked body), it stops the upload there
(``StopUpload(connection_reset=True)``: the rest of the body is not read) and leaves
the size on ``request.knowledge_upload_refused`` for the view to report.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

# Form fields besides the file (CSRF token, title, multipart boundaries).
FORM_OVERHEAD = 64 * 1024


class KnowledgeUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data: Any, META: Any, content_length: int,  # noqa: N803
                         boundary: Any, encoding: Any = None) -> None:
        self.content_length = content_length
        self.received = 0
        return None

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        limit = settings.KNOWLEDGE_UPLOAD_MAX_BYTES
        if self.content_length and self.content_length > limit + FORM_OVERHEAD:
            self._refuse(self.content_length)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > settings.KNOWLEDGE_UPLOAD_MAX_BYTES:
            self._refuse(self.received)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None

    def _refuse(self, size: int) -> None:
        if self.request is not None:
            self.request.knowledge_upload_refused = size  # type: ignore[attr-defined]
        raise StopUpload(connection_reset=True)


def limit_knowledge_upload(request: Any) -> None:
    """Put the size guard first in the request's upload handlers (before the body is
    parsed: the view must be csrf_exempt and check CSRF itself afterwards)."""
    request.upload_handlers.insert(0, KnowledgeUploadHandler(request))
