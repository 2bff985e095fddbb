"""The 1min.ai image API client: one request method, bounded retries, typed errors.

The vendor documents only the success shape of ``POST /api/features``. Everything
else here (error bodies, refusals, rate limits) follows what public clients report,
and every surprise becomes a :class:`OneMinError` with a stable ``kind``, a short
``user_message`` for Discord and a ``detail`` for the operator's log.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn
from urllib.parse import urlsplit

import aiohttp

from bot import models
from bot.jobs.errors import JobError
from bot.models import ModelProfile

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

FEATURES_PATH = "/api/features"
ASSETS_PATH = "/api/assets"
SUCCESS_STATUS = "SUCCESS"

# A success body is a few hundred bytes; anything far larger is not the API talking.
_MAX_SUCCESS_BODY = 1024 * 1024
# Error bodies are only read for the log line.
_MAX_ERROR_BODY = 64 * 1024
_MAX_DETAIL_CHARS = 300
# Vendor text that means "the account has run dry", whatever the status code.
_CREDITS_RE = re.compile(r"credit|balance|quota", re.IGNORECASE)
_REDACTED = "[redacted]"

OneMinErrorKind = Literal[
    "auth",
    "credits",
    "rate_limited",
    "bad_request",
    "refused",
    "bad_response",
    "timeout",
    "unavailable",
]


class OneMinError(JobError):
    """A failed image generation.

    ``kind`` is a stable identifier (stored in the database), ``user_message`` is
    what a Discord member reads, ``detail`` is for the operator's log (status code
    and the vendor's own text, truncated, never the API key) and ``status`` is the
    HTTP status of the last answer, if there was one.
    """

    kind: OneMinErrorKind
    default_user_message: ClassVar[str] = "The image service failed. Please try again later."

    def __init__(
        self, detail: str, *, status: int | None = None, user_message: str | None = None
    ) -> None:
        super().__init__(type(self).kind, user_message or self.default_user_message, detail)
        self.status = status

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(kind={self.kind!r}, status={self.status!r}, "
            f"detail={self.detail!r})"
        )


class OneMinAuthError(OneMinError):
    """401/403: the API key was rejected."""

    kind = "auth"
    default_user_message = (
        "The bot's 1min.ai API key was rejected. Please tell a moderator or the bot's operator."
    )


class OneMinCreditsError(OneMinError):
    """402, or any error that talks about credits, balance or quota."""

    kind = "credits"
    default_user_message = (
        "The bot's 1min.ai account is out of credits. Please tell the bot's operator."
    )


class OneMinRateLimitedError(OneMinError):
    """429 that did not clear within the retries and the time bound."""

    kind = "rate_limited"
    default_user_message = (
        "The image service is getting too many requests right now. Please try again in a minute."
    )

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        user_message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(detail, status=status, user_message=user_message)
        self.retry_after = retry_after


class OneMinBadRequestError(OneMinError):
    """A 4xx other than 401/402/403/429: the API did not accept the request."""

    kind = "bad_request"
    default_user_message = (
        "The image service did not accept this request. Try rewording the prompt; "
        "if it keeps happening, tell the bot's operator."
    )


class OneMinRefusedError(OneMinError):
    """A 200 without an image, or a record whose status is not SUCCESS."""

    kind = "refused"
    default_user_message = "The image service refused this prompt. Try rewording it."


class OneMinBadResponseError(OneMinError):
    """An answer that is not the documented shape (or an unsafe image URL)."""

    kind = "bad_response"
    default_user_message = (
        "The image service sent back something unexpected. Please try again later."
    )


class OneMinTimeoutError(OneMinError):
    """The whole-call time bound ran out (retries and waits included)."""

    kind = "timeout"
    default_user_message = "The image service took too long to answer. Please try again later."


class OneMinUnavailableError(OneMinError):
    """Connection errors or 5xx that outlasted the retries."""

    kind = "unavailable"
    default_user_message = (
        "The image service is unavailable right now. Please try again in a few minutes."
    )


@dataclass(frozen=True)
class Generation:
    """A successful generation: where to fetch the image and what the API echoed."""

    image_url: str
    record_id: str | None
    result_paths: tuple[str, ...]
    prompt_object: Mapping[str, Any]


class _RetryableError(Exception):
    """One attempt failed in a way worth another try; ``final`` is raised if none is left."""

    def __init__(self, final: OneMinError, *, retry_after: float | None = None) -> None:
        super().__init__(final.detail)
        self.final = final
        self.retry_after = retry_after


class OneMinClient:
    """Client for ``POST {base_url}/api/features`` (``IMAGE_GENERATOR`` and
    ``IMAGE_EDITOR``) and ``POST {base_url}/api/assets`` (uploads).

    The session is shared and owned by the caller. ``timeout`` bounds a whole
    call (:meth:`generate`, :meth:`edit`, :meth:`upload_asset`): every attempt
    and every backoff sleep together.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        model: str | ModelProfile,
        edit_model: str | ModelProfile = models.DEFAULT_EDIT_MODEL,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        max_attempts: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if timeout <= 0 or connect_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        # A bare model id gets the model table's defaults (see bot/models.py).
        self._profile = (
            model if isinstance(model, ModelProfile) else models.profile(model, models.GENERATE)
        )
        self._model = self._profile.model
        self._edit_profile = (
            edit_model
            if isinstance(edit_model, ModelProfile)
            else models.profile(edit_model, models.EDIT)
        )
        self._warned_many_paths = False
        if not self._profile.known:
            log.warning(
                "Model %s is not in the bot's model table: sending the prompt only%s."
                " Check the model id; see ONEMIN_ASPECT_RATIO_FIELD to change the ratio field",
                self._model,
                ""
                if self._profile.ratio_field is None
                else f", plus promptObject.{self._profile.ratio_field} with the 10 ratios",
            )
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        # Only the connect phase gets its own limit: generation itself may take a
        # long time, and the whole-call bound (asyncio.timeout) covers the rest.
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_timeout, sock_connect=connect_timeout
        )

    def __repr__(self) -> str:
        # Never the key: this object ends up in tracebacks and debug logs.
        return f"OneMinClient(base_url={self._base_url!r}, model={self._model!r})"

    @classmethod
    def from_settings(cls, session: aiohttp.ClientSession, settings: Settings) -> OneMinClient:
        """The client the configuration describes (generation model, URL, key, bound)."""
        return cls(
            session,
            base_url=settings.onemin_api_url,
            api_key=settings.onemin_api_key.get(),
            model=models.generation_profile(settings),
            edit_model=models.edit_profile(settings),
            timeout=settings.onemin_timeout_seconds,
        )

    @property
    def base_url(self) -> str:
        """The API base URL, without a trailing slash."""
        return self._base_url

    @property
    def profile(self) -> ModelProfile:
        """The generation model and what is sent to it."""
        return self._profile

    @property
    def edit_profile(self) -> ModelProfile:
        """The editing model and what is sent to it."""
        return self._edit_profile

    @property
    def aspect_ratio_field(self) -> str | None:
        """The ``promptObject`` key a ratio is sent under (None: none is sent)."""
        return self._profile.ratio_field

    async def generate(self, prompt: str, aspect_ratio: str | None = None) -> Generation:
        """Ask for one image; return where to download it.

        ``aspect_ratio`` is sent (under the model's ratio field) only when given.
        Raises a :class:`OneMinError` subclass on any failure.
        """
        body = self._profile.generation_body(prompt, aspect_ratio)
        return await self._feature(body, "generation")

    async def edit(
        self, prompt: str, image_path: str, references: Sequence[str] = ()
    ) -> Generation:
        """Ask for one edit of an uploaded image; return where to download the result.

        ``image_path`` and ``references`` are paths :meth:`upload_asset` returned.
        The answer has the same shape as a generation's (vendor notes).
        """
        body = self._edit_profile.edit_body(prompt, image_path, references)
        return await self._feature(body, "edit")

    async def _feature(self, body: Mapping[str, Any], what: str) -> Generation:
        started = time.monotonic()
        try:
            payload = await self._request("POST", FEATURES_PATH, json_body=body)
            generation = self._parse_generation(payload)
        except OneMinError as exc:
            level = logging.WARNING if exc.kind in _EXPECTED_KINDS else logging.ERROR
            log.log(level, "1min.ai %s failed (%s): %s", what, exc.kind, exc.detail)
            raise
        log.debug(
            "1min.ai record %s ready in %.1fs", generation.record_id, time.monotonic() - started
        )
        return generation

    async def upload_asset(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload an image with the Asset API; return its stored path.

        ``POST /api/assets``, multipart with one file field ``asset`` whose name
        carries the real extension (vendor notes: clients report "file type
        isn't supported" without one). The answer's ``fileContent.path`` is
        what later calls take; ``asset.key`` holds the same path.
        """

        def form() -> aiohttp.FormData:
            # A FormData can be sent once: every attempt gets its own.
            built = aiohttp.FormData()
            built.add_field("asset", data, filename=filename, content_type=content_type)
            return built

        try:
            payload = await self._request("POST", ASSETS_PATH, form=form)
            return self._parse_asset(payload)
        except OneMinError as exc:
            if exc.kind == "bad_request":
                exc.user_message = (
                    "The image service did not accept the image to edit. Try another PNG, "
                    "JPEG or WebP image."
                )
            level = logging.WARNING if exc.kind in _EXPECTED_KINDS else logging.ERROR
            log.log(level, "1min.ai upload failed (%s): %s", exc.kind, exc.detail)
            raise

    # -- the one request method -------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json_body: Mapping[str, Any] | None = None,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> Any:
        """Send one API call with retries inside the whole-call bound; return parsed JSON.

        The body is ``json_body`` as JSON, or a multipart form built anew by
        ``form`` for each attempt.
        """
        url = f"{self._base_url}{path}"
        headers = {"API-KEY": self._api_key}
        body: Callable[[], bytes | aiohttp.FormData]
        if form is not None:
            body = form  # aiohttp sets the multipart Content-Type with its boundary
        else:
            encoded = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"

            def body() -> bytes:
                return encoded

        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        attempt = 0
        last: OneMinError | None = None
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    attempt += 1
                    try:
                        return await self._attempt(method, url, headers, body())
                    except _RetryableError as retry:
                        last = retry.final
                        delay = self._retry_delay(attempt, retry.retry_after)
                        remaining = deadline - loop.time()
                        if attempt >= self._max_attempts:
                            retry.final.detail += f" (after {attempt} attempts)"
                            raise retry.final from None
                        if delay >= remaining:
                            # Sleeping would only end in a timeout; the real cause is
                            # more useful to the member and the operator.
                            retry.final.detail += (
                                f" (a retry would need {delay:.1f}s, {max(remaining, 0):.1f}s left)"
                            )
                            raise retry.final from None
                        log.warning(
                            "1min.ai attempt %d/%d failed (%s); retrying in %.2fs",
                            attempt,
                            self._max_attempts,
                            retry.final.detail,
                            delay,
                        )
                        await asyncio.sleep(delay)
        except TimeoutError:
            reason = f"; last error: {last.detail}" if last is not None else ""
            raise OneMinTimeoutError(
                f"no answer within {self._timeout:g}s (attempt {attempt}){reason}",
                status=last.status if last is not None else None,
            ) from None

    async def _attempt(
        self, method: str, url: str, headers: Mapping[str, str], data: bytes | aiohttp.FormData
    ) -> Any:
        """One HTTP exchange, mapped to JSON or to a (possibly retryable) error."""
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=data,
                timeout=self._client_timeout,
                # A redirected POST would silently become a GET somewhere else.
                allow_redirects=False,
            ) as resp:
                status = resp.status
                if 200 <= status < 300:
                    body = await _read_capped(resp, _MAX_SUCCESS_BODY)
                    if body is None:
                        raise OneMinBadResponseError(
                            f"HTTP {status}: body larger than {_MAX_SUCCESS_BODY} bytes",
                            status=status,
                        )
                    return self._decode_json(body, status)
                body = await _read_capped(resp, _MAX_ERROR_BODY, truncate=True) or b""
                retry_after = _parse_retry_after(resp.headers.get("Retry-After"))
        except aiohttp.InvalidURL as exc:
            # A broken ONEMIN_API_URL will not heal by retrying.
            raise OneMinUnavailableError(self._redact(f"invalid URL: {exc}")) from None
        except aiohttp.ClientError as exc:
            # Includes the connect timeout (ConnectionTimeoutError is a ClientError).
            detail = self._redact(f"connection error: {type(exc).__name__}: {exc}")
            raise _RetryableError(OneMinUnavailableError(detail)) from None
        raise self._error_for_status(status, body, retry_after)

    def _error_for_status(
        self, status: int, body: bytes, retry_after: float | None
    ) -> OneMinError | _RetryableError:
        """Map a non-2xx answer to the error to raise (retryable or final)."""
        vendor = _vendor_text(body)
        detail = self._redact(_truncate(f"HTTP {status}: {vendor}" if vendor else f"HTTP {status}"))
        if status == 429:
            return _RetryableError(
                OneMinRateLimitedError(detail, status=status, retry_after=retry_after),
                retry_after=retry_after,
            )
        if status >= 500:
            return _RetryableError(OneMinUnavailableError(detail, status=status))
        if status == 402 or _CREDITS_RE.search(vendor):
            return OneMinCreditsError(detail, status=status)
        if status in (401, 403):
            return OneMinAuthError(detail, status=status)
        if 400 <= status < 500:
            return OneMinBadRequestError(detail, status=status)
        # 1xx/3xx: nothing the documented API ever sends.
        return OneMinBadResponseError(detail, status=status)

    def _retry_delay(self, attempt: int, retry_after: float | None) -> float:
        """Retry-After when the server gave one, else exponential backoff with full jitter."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def _decode_json(self, body: bytes, status: int) -> Any:
        try:
            return json.loads(body)
        except ValueError:  # also covers UnicodeDecodeError
            snippet = _squash(body.decode("utf-8", "replace"))
            raise OneMinBadResponseError(
                self._redact(_truncate(f"HTTP {status}: not JSON: {snippet}")), status=status
            ) from None

    # -- the success body ---------------------------------------------------------

    def _parse_generation(self, payload: Any) -> Generation:
        """Check the documented success shape; every deviation is a typed error."""
        if not isinstance(payload, dict):
            self._bad_response(f"expected a JSON object, got {type(payload).__name__}")
        record = payload.get("aiRecord")
        if not isinstance(record, dict):
            vendor = _vendor_fields(payload)
            if vendor:
                # A 200 with words but no record: how refusals are reported to come back.
                self._refused(f"no aiRecord: {vendor}", vendor)
            self._bad_response(f"no aiRecord object in: {_squash(json.dumps(payload))}")
        status = record.get("status")
        if status != SUCCESS_STATUS:
            vendor = _vendor_fields(record) or _vendor_fields(payload)
            text = f"aiRecord.status={status!r}" + (f": {vendor}" if vendor else "")
            self._refused(text, vendor)
        detail = record.get("aiRecordDetail")
        if not isinstance(detail, dict):
            self._bad_response("aiRecord.aiRecordDetail missing or not an object")
        results = detail.get("resultObject")
        if isinstance(results, dict) and ("code" in results or "message" in results):
            # How the chat feature reports a moderation refusal (an object, not a
            # list of paths); the image refusal shape is undocumented, so this one
            # counts as a refusal too (shared/vendor/1min-api-notes.md).
            vendor = _vendor_fields(results)
            self._refused(f"resultObject is a refusal: {vendor}", vendor)
        if not isinstance(results, list) or not all(isinstance(p, str) for p in results):
            self._bad_response("aiRecordDetail.resultObject is not a list of paths")
        if not results:
            self._bad_response("aiRecordDetail.resultObject is empty")
        if len(results) > 1 and not self._warned_many_paths:
            # One image a request is all the bot asks for; say so once, not per job.
            self._warned_many_paths = True
            log.info(
                "1min.ai returned %d images for one request; the bot uses the first", len(results)
            )
        # The docs put temporaryUrl in aiRecord; a public client's test server puts
        # it at the top level, and that client reads both.
        url = record.get("temporaryUrl") or payload.get("temporaryUrl")
        if not isinstance(url, str) or not url:
            self._bad_response("temporaryUrl missing (neither in aiRecord nor at the top level)")
        image_url = check_temporary_url(url, base_url=self._base_url)
        echoed = detail.get("promptObject")
        uuid = record.get("uuid")
        return Generation(
            image_url=image_url,
            record_id=uuid if isinstance(uuid, str) and uuid else None,
            result_paths=tuple(results),
            prompt_object=MappingProxyType(dict(echoed) if isinstance(echoed, dict) else {}),
        )

    def _parse_asset(self, payload: Any) -> str:
        """The stored path of an upload: ``fileContent.path``, else ``asset.key``."""
        if isinstance(payload, dict):
            for outer, inner in (("fileContent", "path"), ("asset", "key")):
                part = payload.get(outer)
                path = part.get(inner) if isinstance(part, dict) else None
                if isinstance(path, str) and path:
                    return path
        self._bad_response(
            f"upload answer without fileContent.path: {_squash(json.dumps(payload))}"
        )

    def _refused(self, text: str, vendor: str) -> NoReturn:
        detail = self._redact(_truncate(f"HTTP 200: {text}"))
        if _CREDITS_RE.search(vendor):
            raise OneMinCreditsError(detail, status=200)
        raise OneMinRefusedError(detail, status=200)

    def _bad_response(self, text: str) -> NoReturn:
        raise OneMinBadResponseError(self._redact(_truncate(f"HTTP 200: {text}")), status=200)

    def _redact(self, text: str) -> str:
        # A vendor could echo the key back in an error body; it must never reach a log.
        return text.replace(self._api_key, _REDACTED)


# Failures a member caused or that heal by themselves: a warning, not an error.
_EXPECTED_KINDS: frozenset[str] = frozenset({"refused", "rate_limited", "timeout", "unavailable"})


def check_temporary_url(url: str, *, base_url: str) -> str:
    """Return ``url`` if it is a safe image URL for an API at ``base_url``.

    It must be absolute https with a host; plain http is accepted only when the API
    itself is plain http (a local or proxied API). Raises :class:`OneMinBadResponseError`.
    """
    allowed = ("http", "https") if urlsplit(base_url).scheme.lower() == "http" else ("https",)
    try:
        parts = urlsplit(url)
        scheme, netloc, host = parts.scheme.lower(), parts.netloc, parts.hostname
    except ValueError:  # e.g. a malformed IPv6 host or port
        scheme, netloc, host = "?", "?", None
    if scheme not in allowed or not host:
        # Scheme and host only: the query string is a (short-lived) signature.
        raise OneMinBadResponseError(
            _truncate(
                f"HTTP 200: temporaryUrl {scheme}://{netloc} is not allowed"
                f" (expected {' or '.join(allowed)})"
            ),
            status=200,
        )
    return url


async def _read_capped(
    resp: aiohttp.ClientResponse, cap: int, *, truncate: bool = False
) -> bytes | None:
    """Read at most ``cap`` bytes; over the cap return the prefix or None."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in resp.content.iter_chunked(16 * 1024):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            return b"".join(chunks)[:cap] if truncate else None
    return b"".join(chunks)


def _parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _vendor_fields(data: Mapping[str, Any]) -> str:
    """The vendor's own error words from a JSON object: errorCode, message, error, detail."""
    parts: list[str] = []
    for key in ("errorCode", "code", "message", "error", "detail", "details", "reason"):
        value = data.get(key)
        if isinstance(value, dict):
            value = value.get("message") or value.get("code") or value
        if value is None or value == "" or value == [] or value == {}:
            continue
        text = _squash(value if isinstance(value, str) else json.dumps(value))
        if text not in parts:
            parts.append(text)
    return ": ".join(parts)


def _vendor_text(body: bytes) -> str:
    """The most useful words of an error body: vendor fields if JSON, else the raw text."""
    text = body.decode("utf-8", "replace")
    try:
        data = json.loads(text)
    except ValueError:
        return _truncate(_squash(text))
    if isinstance(data, dict):
        fields = _vendor_fields(data)
        if fields:
            return _truncate(fields)
    return _truncate(_squash(text))


def _squash(text: str) -> str:
    return " ".join(text.split())


def _truncate(text: str, limit: int = _MAX_DETAIL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
