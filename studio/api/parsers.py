"""The one JSON parser of the API (DRF's ``DEFAULT_PARSER_CLASSES``).

Every JSON body is read with a size limit and a nesting limit before anything else sees
it: a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is 413, one nested deeper than
``API_JSON_MAX_DEPTH`` is 400 with a message. Python's json module recurses once per
level, so 1,500 nested arrays (3 KB) would otherwise end in a RecursionError: a 500.

This module imports no view: DRF reads its default parser classes while
``rest_framework.views`` is being imported.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.utils import json as strict_json


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "payload_too_large"


def json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether ``data`` (parsed JSON) nests lists and objects deeper than ``limit``.

    Iterative, so it is safe on any input the parser returned."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value  # type: ignore[assignment]
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children
                     if isinstance(child, dict | list))
    return False


class StudioJSONParser(JSONParser):
    """JSON only, with a size and a depth limit, and no lone surrogates anywhere
    (``"\\ud800"`` is valid JSON but not text: it cannot be stored in PostgreSQL nor
    rendered back in an error message)."""

    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Any = None) -> Any:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise PayloadTooLarge(f"The request body is larger than {limit:,} bytes.")
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise exceptions.ParseError(
                f"JSON parse error - the body is not valid {encoding} text."
            ) from exc
        max_depth = settings.API_JSON_MAX_DEPTH
        too_deep = exceptions.ParseError(
            f"JSON parse error - the body nests lists or objects more than {max_depth} "
            "levels deep."
        )
        try:
            data = strict_json.loads(text)
        except RecursionError:
            raise too_deep from None
        except ValueError as exc:
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        if json_depth_exceeds(data, max_depth):
            raise too_deep
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise exceptions.ParseError(
                "JSON parse error - the body holds an invalid character (a lone surrogate)."
            ) from exc
        return data
