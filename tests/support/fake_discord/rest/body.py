"""Request bodies, parsed as strictly as Discord: JSON, or multipart with ``payload_json``
and ``files[n]`` parts."""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import BodyPartReader, web

from ..models import (
    FakeUpload,
    RecordedRequest,
)
from ..validate import (
    FormErrors,
    entity_too_large,
    invalid_json,
)
from .common import RECORD_KEY

_FILES_FIELD = re.compile(r"files\[(\d+)\]")


async def read_body(
    request: web.Request, *, size_limit: int | None
) -> tuple[Any, list[FakeUpload]]:
    """Parse a JSON or multipart (``payload_json`` + ``files[n]``) body, strictly."""
    rec: RecordedRequest = request[RECORD_KEY]
    if not request.body_exists:
        return None, []
    if request.content_type == "multipart/form-data":
        payload, uploads = await _read_multipart(request, size_limit)
        rec.json, rec.files = payload, uploads
        return payload, uploads
    raw = await request.read()
    if request.content_type != "application/json":
        errors = FormErrors()
        errors.add(
            (),
            "CONTENT_TYPE_INVALID",
            f"Expected application/json or multipart/form-data, got {request.content_type}",
        )
        raise errors.error()
    if not raw:
        return None, []
    try:
        payload = json.loads(raw)
    except ValueError:
        raise invalid_json() from None
    rec.json = payload
    return payload, []


async def _read_multipart(
    request: web.Request, size_limit: int | None
) -> tuple[Any, list[FakeUpload]]:
    errors = FormErrors()
    payload: Any = None
    uploads: list[FakeUpload] = []
    names: set[str] = set()
    too_large = False
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError, KeyError):
        errors.add((), "MULTIPART_INVALID", "Malformed multipart body.")
        raise errors.error() from None
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                errors.add((), "MULTIPART_INVALID", "Nested multipart bodies are not allowed.")
                break
            name = part.name
            if name is None:
                errors.add((), "MULTIPART_INVALID", "Part without a name.")
                await part.release()
                continue
            if name in names:
                errors.add((name,), "MULTIPART_DUPLICATE_FIELD", f"Duplicate field {name!r}.")
            names.add(name)
            match = _FILES_FIELD.fullmatch(name)
            if name == "payload_json":
                raw = await part.read(decode=True)
                try:
                    payload = json.loads(raw)
                except ValueError:
                    errors.add(
                        ("payload_json",),
                        "BASE_TYPE_INVALID_JSON",
                        "Invalid JSON in payload_json.",
                    )
            elif match:
                if not part.filename:
                    errors.add((name,), "BASE_TYPE_REQUIRED", "File parts need a filename.")
                chunks = []
                size = 0
                while True:
                    chunk = await part.read_chunk()
                    if not chunk:
                        break
                    size += len(chunk)
                    if size_limit is not None and size > size_limit:
                        too_large = True
                    if not too_large:
                        chunks.append(chunk)
                if not too_large:
                    uploads.append(
                        FakeUpload(
                            field=name,
                            index=int(match.group(1)),
                            filename=part.filename or "",
                            content_type=part.headers.get("Content-Type"),
                            data=b"".join(chunks),
                        )
                    )
            else:
                errors.add(
                    (name,),
                    "MULTIPART_UNKNOWN_FIELD",
                    f"Unexpected form field {name!r} (expected payload_json or files[n]).",
                )
                await part.release()
    except ValueError as exc:
        errors.add((), "MULTIPART_INVALID", f"Malformed multipart body: {exc}")
    rec: RecordedRequest = request[RECORD_KEY]
    rec.json, rec.files = payload, uploads
    if too_large:
        raise entity_too_large()
    if payload is not None and not isinstance(payload, dict):
        errors.add(("payload_json",), "MODEL_TYPE_CONVERT", "payload_json must be an object.")
    errors.raise_if_any()
    return (payload if payload is not None else {}), uploads
