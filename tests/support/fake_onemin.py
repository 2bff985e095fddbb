"""A local stand-in for the 1min.ai image API and its signed asset URLs.

Without a script it behaves like the vendor's doc (``shared/seed/1min-image-api.txt``)
plus what public clients report: 401 ``{"message": "Unauthorized"}`` for a wrong
``API-KEY``, 400 ``{"errorCode": "BAD_REQUEST", "message": ...}`` for a bad body, and
a success body whose ``temporaryUrl`` serves a real, freshly drawn image at Gemini's
size for the ratio asked for. It is strict per model (``GENERATORS``, from the
vendor's per-model pages in ``shared/vendor/1min-api-notes.md``): an unknown model, a
field the model does not document, a missing or wrong ``imageSize`` or a ratio the
model does not take is a 400 ``{"message": ...}``, the shape public clients report.
``script()`` queues one-shot misbehaviours; ``ignore_ratio`` and
``top_level_temporary_url`` change every answer.

Editing is served as the vendor notes document it: ``POST /api/assets`` takes one
multipart file field ``asset`` whose name has an image extension and answers with
``fileContent.path``; ``IMAGE_EDITOR`` takes only the editing models (``EDITORS``),
requires ``imageUrl`` (and allows ``referenceImage1/2``) to be paths uploaded
before, and ``imageSize`` for the gemini-3 editors. Its image is a documented,
deterministic transform of the uploaded source (:func:`edit_transform`: the
colours inverted, same size, as PNG), so a test can check that a result was made
from exactly that source.

    fake = FakeOneMin()
    await fake.start()
    fake.script(Scripted.error(500), Scripted.with_image(image))
    ...
    await fake.close()
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import random
import secrets
import socket
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from aiohttp import BodyPartReader, web
from PIL import Image, ImageDraw, ImageFont, ImageOps

MODEL = "gemini-2.5-flash-image"

# Copied from SPEC.md on purpose (not imported from bot.images), so the fake stays
# an independent oracle for the bot's own table.
SIZES: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}


@dataclass(frozen=True)
class FakeModel:
    """What the vendor's generator page documents for one model.

    ``fields`` are the ``promptObject`` keys it accepts; ``sizes`` the ``imageSize``
    values it requires (empty: it takes no ``imageSize``).
    """

    fields: frozenset[str]
    ratio_field: str | None = None
    ratios: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()


_VENDOR_31_RATIOS = tuple("1:1 1:4 1:8 2:3 3:2 3:4 4:1 4:3 4:5 5:4 8:1 9:16 16:9 21:9".split())  # noqa: SIM905

# Copied from the vendor notes on purpose (not imported from bot.models), so the
# fake stays an independent oracle for the bot's own table.
GENERATORS: dict[str, FakeModel] = {
    # Only ``prompt`` is documented; ``aspect_ratio`` is accepted because the
    # vendor's own response example echoes it and SPEC.md has the bot send it.
    "gemini-2.5-flash-image": FakeModel(
        fields=frozenset({"prompt", "aspect_ratio"}),
        ratio_field="aspect_ratio",
        ratios=tuple(SIZES),
    ),
    "gemini-3.1-flash-image-preview": FakeModel(
        fields=frozenset({"prompt", "imageSize", "aspectRatio", "temperature", "topP"}),
        ratio_field="aspectRatio",
        # As the vendor page lists them.
        ratios=_VENDOR_31_RATIOS,
        sizes=("512", "1K", "2K", "4K"),
    ),
    "gemini-3-pro-image-preview": FakeModel(
        fields=frozenset({"prompt", "imageSize", "temperature", "topP"}),
        sizes=("1K", "2K", "4K"),
    ),
}
# The "Image Text Editor" pages (vendor notes): the image to edit, the prompt, two
# optional references; the gemini-3 editors also require imageSize. Copied, not
# imported from bot.models, for the same reason as GENERATORS.
_EDIT_FIELDS = frozenset({"imageUrl", "prompt", "referenceImage1", "referenceImage2"})
EDITORS: dict[str, FakeModel] = {
    "gemini-2.5-flash-image-preview": FakeModel(fields=_EDIT_FIELDS),
    "gemini-3.1-flash-image-preview": FakeModel(
        fields=_EDIT_FIELDS | {"imageSize", "temperature", "topP"},
        sizes=("512", "1K", "2K", "4K"),
    ),
    "gemini-3-pro-image-preview": FakeModel(
        fields=_EDIT_FIELDS | {"imageSize", "temperature", "topP"},
        sizes=("1K", "2K", "4K"),
    ),
}
# Extensions the Asset API takes for images; public clients report "file type
# isn't supported" for a name without one.
UPLOAD_EXTENSIONS = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}
# Pixel scale of each imageSize against 1K (Google names sizes by their long side).
_SIZE_SCALE = {"512": 0.5, "1K": 1.0, "2K": 2.0, "4K": 4.0}
# The refusal the chat feature sends for a moderated prompt (vendor notes: the only
# refusal shape seen); its code and words here are made up.
REFUSAL = {"code": "CONTENT_POLICY_VIOLATION", "message": "The prompt was flagged by moderation"}

_EXTENSIONS = {"WEBP": "webp", "PNG": "png", "JPEG": "jpg", "GIF": "gif"}
_CONTENT_TYPES = {
    "WEBP": "image/webp",
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
}

Payload = dict[str, Any]


@dataclass(frozen=True)
class RecordedCall:
    """One call to ``/api/features`` as the server saw it."""

    headers: dict[str, str]
    json: Any  # the parsed body, or None if it was not JSON
    time: float  # time.monotonic() when it arrived
    body: bytes = b""


@dataclass(frozen=True)
class Scripted:
    """A one-shot behaviour for the next ``/api/features`` call.

    Build them with the class methods. ``status``/``json_body``/``text_body`` give a
    literal answer; otherwise the normal success body is built, ``mutate`` may edit
    it, and ``image`` (bytes) replaces what its ``temporaryUrl`` serves.
    """

    status: int = 200
    json_body: Any = None
    text_body: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hangs: bool = False
    mutate: Callable[[Payload, str], None] | None = None
    image: bytes | None = None
    image_chunked: bool = False
    literal: bool = False

    # -- literal answers ----------------------------------------------------------

    @classmethod
    def error(
        cls, status: int, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> Scripted:
        """Answer ``status`` with a JSON body (dict/list) or a text body (str)."""
        if body is None:
            body = {"message": HTTPStatus(status).phrase}
        if isinstance(body, str):
            return cls(status=status, text_body=body, headers=headers or {}, literal=True)
        return cls(status=status, json_body=body, headers=headers or {}, literal=True)

    @classmethod
    def rate_limited(cls, retry_after: float | str | None = None) -> Scripted:
        """429, with ``Retry-After`` when given."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return cls.error(429, {"message": "Too many requests"}, headers=headers)

    @classmethod
    def unauthorized(cls) -> Scripted:
        """401 as public clients report it for a bad key."""
        return cls.error(401, {"message": "Unauthorized"})

    @classmethod
    def bad_request(cls, message: str, error_code: str = "BAD_REQUEST") -> Scripted:
        """400 ``{"errorCode": ..., "message": ...}``."""
        return cls.error(400, {"errorCode": error_code, "message": message})

    @classmethod
    def out_of_credits(cls, status: int = 402) -> Scripted:
        """The account has no credits left (402 by default)."""
        return cls.error(
            status, {"errorCode": "INSUFFICIENT_CREDITS", "message": "Insufficient credits"}
        )

    @classmethod
    def malformed_json(cls, status: int = 200) -> Scripted:
        """A body that claims JSON and is not."""
        return cls(
            status=status,
            text_body='{"aiRecord": {"uuid": ',
            headers={"Content-Type": "application/json"},
            literal=True,
        )

    @classmethod
    def json_answer(cls, body: Any, status: int = 200) -> Scripted:
        """Any JSON body with any status."""
        return cls(status=status, json_body=body, literal=True)

    @classmethod
    def hang(cls) -> Scripted:
        """Never answer (until the client gives up or the fake closes)."""
        return cls(hangs=True)

    # -- edits of the success body -------------------------------------------------

    @classmethod
    def record_status(cls, status: str = "FAILED") -> Scripted:
        """200 whose ``aiRecord.status`` is not SUCCESS."""

        def mutate(payload: Payload, base_url: str) -> None:
            payload["aiRecord"]["status"] = status

        return cls(mutate=mutate)

    @classmethod
    def empty_result(cls) -> Scripted:
        """200 with ``resultObject: []``."""

        def mutate(payload: Payload, base_url: str) -> None:
            payload["aiRecord"]["aiRecordDetail"]["resultObject"] = []

        return cls(mutate=mutate)

    @classmethod
    def missing_temporary_url(cls) -> Scripted:
        """200 without ``aiRecord.temporaryUrl``."""

        def mutate(payload: Payload, base_url: str) -> None:
            del payload["aiRecord"]["temporaryUrl"]

        return cls(mutate=mutate)

    @classmethod
    def temporary_url(cls, url: str) -> Scripted:
        """Replace ``temporaryUrl``; ``{url}`` in it is the real URL, ``{base_url}`` the
        fake's base, e.g. ``"ftp://elsewhere/x"`` or ``"{url}".replace(...)``."""

        def mutate(payload: Payload, base_url: str) -> None:
            real = payload["aiRecord"]["temporaryUrl"]
            payload["aiRecord"]["temporaryUrl"] = url.format(url=real, base_url=base_url)

        return cls(mutate=mutate)

    @classmethod
    def temporary_url_scheme(cls, scheme: str) -> Scripted:
        """Same ``temporaryUrl`` with another scheme (``https``, ``ftp``, ``file``...)."""

        def mutate(payload: Payload, base_url: str) -> None:
            real: str = payload["aiRecord"]["temporaryUrl"]
            payload["aiRecord"]["temporaryUrl"] = scheme + real[real.index(":") :]

        return cls(mutate=mutate)

    @classmethod
    def no_record(cls, message: str = "Your prompt was blocked by the safety filter") -> Scripted:
        """200 with a message and no ``aiRecord`` (how refusals are reported)."""
        return cls.json_answer({"message": message})

    @classmethod
    def refusal(cls, result: dict[str, Any] | None = None) -> Scripted:
        """200 SUCCESS whose ``resultObject`` is a ``{code, message}`` object, not paths."""

        def mutate(payload: Payload, base_url: str) -> None:
            payload["aiRecord"]["aiRecordDetail"]["resultObject"] = dict(result or REFUSAL)

        return cls(mutate=mutate)

    @classmethod
    def several_paths(cls, count: int = 3) -> Scripted:
        """A success listing ``count`` stored paths (the first is the served image)."""

        def mutate(payload: Payload, base_url: str) -> None:
            paths = payload["aiRecord"]["aiRecordDetail"]["resultObject"]
            first = paths[0]
            paths.extend(first.replace("_fake.", f"_fake_{n}.") for n in range(2, count + 1))

        return cls(mutate=mutate)

    @classmethod
    def with_image(
        cls, data: bytes | Image.Image, *, fmt: str = "PNG", chunked: bool = False
    ) -> Scripted:
        """A success whose ``temporaryUrl`` serves ``data`` (bytes, or a Pillow image
        encoded as ``fmt``); ``chunked`` drops the Content-Length header."""
        return cls(image=_to_bytes(data, fmt), image_chunked=chunked)


@dataclass(frozen=True)
class Upload:
    """One file the bot uploaded with ``POST /api/assets``."""

    path: str
    filename: str
    content_type: str | None
    data: bytes
    time: float  # time.monotonic() when it arrived


@dataclass
class _Asset:
    data: bytes | None
    content_type: str
    chunked: bool = False
    size: int = 0  # for streamed filler when data is None
    status: int = 200
    stall: bool = False


class FakeOneMin:
    """The fake API server. ``requests``, ``served_images`` and ``in_flight`` let tests
    see what the bot did; ``latency`` slows every ``/api/features`` call."""

    def __init__(
        self,
        *,
        api_key: str = "test-key",
        latency: float = 0.0,
        image_format: str = "WEBP",
    ) -> None:
        self.api_key = api_key
        self.latency = latency
        self.image_format = image_format.upper()
        # Knobs for shapes public clients report: a square image whatever ratio was
        # asked (an API that ignores the field), and temporaryUrl at the top level
        # of the body instead of inside aiRecord (one client's test server).
        self.ignore_ratio = False
        self.top_level_temporary_url = False
        # The generator models this API serves; a test may add one the bot does not know.
        self.models: dict[str, FakeModel] = dict(GENERATORS)
        self.base_url = ""
        self.requests: list[RecordedCall] = []
        self.served_images: list[bytes] = []
        self.asset_requests: list[str] = []
        # The editing models this API serves, and every upload, in order.
        self.editors: dict[str, FakeModel] = dict(EDITORS)
        self.uploads: list[Upload] = []
        self.upload_calls = 0
        self._uploaded: dict[str, Upload] = {}
        self._upload_script: deque[Scripted] = deque()
        self.asset_bytes_sent: int = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._script: deque[Scripted] = deque()
        self._assets: dict[str, _Asset] = {}
        self._signature = secrets.token_hex(16)
        self._calls = 0
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self.released = asyncio.Event()
        """Calls wait for this before answering: ``hold()`` clears it, ``release()`` sets
        it; tests that need jobs to stay running whatever the timing use them."""
        self.released.set()

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 at a random free port."""
        # Uploads of images to edit run to tens of MB; aiohttp's default cap is 1 MiB.
        app = web.Application(client_max_size=1 << 30)
        app.router.add_post("/api/features", self._features)
        app.router.add_post("/api/assets", self._upload)
        app.router.add_get("/asset/{path:.+}", self._asset)
        # Short shutdown: a hung handler must not hold close() for a minute.
        self._runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.base_url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        """Stop serving; hung calls and endless downloads end at once."""
        self._stopping.set()
        self.released.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeOneMin:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- scripting ------------------------------------------------------------------

    def hold(self) -> None:
        """Calls arriving from now on wait (in flight) until :meth:`release`."""
        self.released.clear()

    def release(self) -> None:
        """Let held calls, and every later one, answer."""
        self.released.set()

    def script(self, *responses: Scripted) -> None:
        """Queue one-shot behaviours, used by the next calls in order."""
        self._script.extend(responses)

    def script_uploads(self, *responses: Scripted) -> None:
        """Queue literal answers (``Scripted.error`` and the like) for the next uploads."""
        if not all(r.literal for r in responses):
            raise ValueError("uploads take literal answers only")
        self._upload_script.extend(responses)

    def forget_uploads(self) -> None:
        """Drop every uploaded path, as if the API no longer kept them."""
        self._uploaded.clear()

    def add_asset(
        self,
        data: bytes | Image.Image | None = None,
        *,
        fmt: str = "PNG",
        chunked: bool = False,
        size: int = 0,
        status: int = 200,
        content_type: str | None = None,
        stall: bool = False,
    ) -> str:
        """Serve ``data`` (or ``size`` filler bytes; ``size=-1`` never ends) and return
        its signed URL. ``stall`` sends the headers and then nothing until close()."""
        body = None if data is None else _to_bytes(data, fmt)
        path = f"direct/{uuid.uuid4().hex}.bin"
        self._assets[path] = _Asset(
            data=body,
            content_type=content_type or "application/octet-stream",
            chunked=chunked,
            size=size,
            status=status,
            stall=stall,
        )
        return self._signed_url(path)

    # -- handlers -------------------------------------------------------------------

    async def _features(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._handle_features(request)
        finally:
            self.in_flight -= 1

    async def _handle_features(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = None
        self.requests.append(
            RecordedCall(headers=dict(request.headers), json=body, time=time.monotonic(), body=raw)
        )
        self._calls += 1
        call_number = self._calls
        await self.released.wait()
        if self.latency:
            await self._sleep(self.latency)
        scripted = self._script.popleft() if self._script else None
        if scripted is not None:
            if scripted.hangs:
                await self._stopping.wait()
                raise web.HTTPServiceUnavailable()
            if scripted.literal:
                return _literal(scripted)

        if request.headers.get("API-KEY") != self.api_key:
            return web.json_response({"message": "Unauthorized"}, status=401)
        problem = self._validate(request, body)
        if problem:
            return web.json_response({"errorCode": "BAD_REQUEST", "message": problem}, status=400)
        feature = body["type"]
        models = self.editors if feature == "IMAGE_EDITOR" else self.models
        model = models.get(body["model"])
        if model is None:
            # The 400 public clients' fixtures show for a model the feature lacks.
            return _message(f"Invalid model {body['model']} for AI feature {feature}!")
        prompt_object = body["promptObject"]
        problem = _check_model_fields(body["model"], model, prompt_object)
        if problem:
            return _message(problem)

        ratio = prompt_object.get(model.ratio_field or "", "1:1")
        size = prompt_object.get("imageSize", "1K")
        if feature == "IMAGE_EDITOR":
            problem = self._check_paths(prompt_object)
            if problem:
                return _message(problem)
        if scripted is not None and scripted.image is not None:
            data, fmt = scripted.image, _format_of(scripted.image)
        elif feature == "IMAGE_EDITOR":
            data, fmt = edit_transform(self._uploaded[prompt_object["imageUrl"]].data), "PNG"
        else:
            fmt = self.image_format
            shape = "1:1" if self.ignore_ratio else ratio
            data = make_image(dimensions(shape, size), call_number, fmt=fmt)
        ext = _EXTENSIONS.get(fmt, "bin")
        stamp = datetime.now(UTC).strftime("%Y_%m_%d_%H_%M_%S")
        path = f"development/images/{stamp}_{call_number:03d}_fake.{ext}"
        self._assets[path] = _Asset(
            data=data,
            content_type=_CONTENT_TYPES.get(fmt, "application/octet-stream"),
            chunked=bool(scripted and scripted.image_chunked),
        )
        self.served_images.append(data)
        payload: Payload = {
            "aiRecord": {
                "uuid": str(uuid.uuid4()),
                "userId": "user-12345",
                "teamId": "team-67890",
                "model": body["model"],
                "type": feature,
                "status": "SUCCESS",
                "createdAt": datetime.now(UTC)
                .isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"),
                "aiRecordDetail": {
                    "promptObject": _echo(body["model"], prompt_object, ratio),
                    "resultObject": [path],
                },
                "temporaryUrl": self._signed_url(path),
            }
        }
        if self.top_level_temporary_url:
            payload["temporaryUrl"] = payload["aiRecord"].pop("temporaryUrl")
        if scripted is not None and scripted.mutate is not None:
            scripted.mutate(payload, self.base_url)
        return web.json_response(payload)

    def _validate(self, request: web.Request, body: Any) -> str | None:
        if request.content_type != "application/json":
            return "Content-Type must be application/json"
        if not isinstance(body, dict):
            return "Body must be a JSON object"
        if body.get("type") not in ("IMAGE_GENERATOR", "IMAGE_EDITOR"):
            return "type must be IMAGE_GENERATOR or IMAGE_EDITOR"
        if not isinstance(body.get("model"), str):
            return "model is required"
        prompt_object = body.get("promptObject")
        if not isinstance(prompt_object, dict):
            return "promptObject is required"
        prompt = prompt_object.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return "promptObject.prompt must be a non-empty string"
        return None

    def _check_paths(self, prompt_object: dict[str, Any]) -> str | None:
        """Why an edit's image paths are not usable, or None (they must be uploaded paths)."""
        if "imageUrl" not in prompt_object:
            return "promptObject.imageUrl is required for IMAGE_EDITOR"
        for key in ("imageUrl", "referenceImage1", "referenceImage2"):
            value = prompt_object.get(key)
            if key in prompt_object and (not isinstance(value, str) or value not in self._uploaded):
                return f"{key} {value!r} is not an uploaded asset"
        return None

    async def _upload(self, request: web.Request) -> web.Response:
        """``POST /api/assets``: one multipart file field ``asset`` (vendor notes)."""
        self.upload_calls += 1
        if self._upload_script:
            await request.read()
            return _literal(self._upload_script.popleft())
        if request.headers.get("API-KEY") != self.api_key:
            return web.json_response({"message": "Unauthorized"}, status=401)
        if request.content_type != "multipart/form-data":
            return _message("Content-Type must be multipart/form-data")
        reader = await request.multipart()
        found: tuple[str, str | None, bytes] | None = None
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                return _message("Nested multipart bodies are not supported")
            data = await part.read()
            if part.name == "asset" and part.filename is not None:
                found = (part.filename, part.headers.get("Content-Type"), bytes(data))
        if found is None:
            return _message("No file uploaded in field 'asset'")
        filename, content_type, data = found
        extension = filename.rpartition(".")[2].lower() if "." in filename else ""
        if extension not in UPLOAD_EXTENSIONS:
            # What public clients report for a file name without an image extension.
            return _message("file type isn't supported")
        stamp = datetime.now(UTC).strftime("%Y_%m_%d_%H_%M_%S")
        uid = uuid.uuid4().hex
        path = f"images/{stamp}_{uid[:8]}_{filename}"
        upload = Upload(path, filename, content_type, data, time.monotonic())
        self.uploads.append(upload)
        self._uploaded[path] = upload
        mimetype = content_type or UPLOAD_EXTENSIONS[extension]
        return web.json_response(
            {
                "asset": {
                    "key": path,
                    "location": f"{self.base_url}/asset/{path}",
                    "mimetype": mimetype,
                    "size": len(data),
                    "acl": "private",
                    "bucket": "fake-1min-assets",
                },
                "fileContent": {"uuid": uid, "path": path, "type": mimetype, "name": filename},
            }
        )

    async def _asset(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.asset_requests.append(path)
        asset = self._assets.get(path)
        if request.query.get("X-Amz-Signature") != self._signature:
            # S3 answers an unsigned or tampered URL like this.
            return web.Response(
                status=403,
                text="<Error><Code>SignatureDoesNotMatch</Code></Error>",
                content_type="application/xml",
            )
        if asset is None:
            return web.Response(
                status=404,
                text="<Error><Code>NoSuchKey</Code></Error>",
                content_type="application/xml",
            )
        if asset.status != 200:
            return web.Response(status=asset.status, text="asset error")
        resp = web.StreamResponse(status=200, headers={"Content-Type": asset.content_type})
        if asset.data is not None and not asset.chunked:
            resp.content_length = len(asset.data)
        elif asset.data is None and asset.size >= 0 and not asset.chunked:
            resp.content_length = asset.size
        else:
            resp.enable_chunked_encoding()
        await resp.prepare(request)
        if asset.stall:
            await self._stopping.wait()
            return resp
        try:
            async for chunk in self._asset_chunks(asset):
                await resp.write(chunk)
                self.asset_bytes_sent += len(chunk)
            await resp.write_eof()
        except ConnectionError:
            # The client hung up (e.g. it hit its byte cap): that is the point.
            pass
        return resp

    async def _asset_chunks(self, asset: _Asset) -> AsyncIterator[bytes]:
        if asset.data is not None:
            for start in range(0, len(asset.data), 64 * 1024):
                yield asset.data[start : start + 64 * 1024]
            return
        chunk = bytes(range(256)) * 256  # 64 KiB of filler
        sent = 0
        while (asset.size < 0 or sent < asset.size) and not self._stopping.is_set():
            piece = chunk if asset.size < 0 else chunk[: asset.size - sent]
            yield piece
            sent += len(piece)
            await asyncio.sleep(0)

    # -- helpers --------------------------------------------------------------------

    def _signed_url(self, path: str) -> str:
        return (
            f"{self.base_url}/asset/{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Expires=3600&X-Amz-Signature={self._signature}"
        )

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


def _message(text: str, status: int = 400) -> web.Response:
    return web.json_response({"message": text}, status=status)


def _check_model_fields(name: str, model: FakeModel, prompt_object: dict[str, Any]) -> str | None:
    """Why ``prompt_object`` does not suit ``model`` (its vendor page), or None."""
    unknown = sorted(set(prompt_object) - model.fields)
    if unknown:
        return f"Invalid field(s) {', '.join(unknown)} in promptObject for model {name}"
    if model.sizes:
        size = prompt_object.get("imageSize")
        if size is None:
            return f"imageSize is required for model {name}"
        if size not in model.sizes:
            return f"imageSize must be one of {', '.join(model.sizes)} for model {name}"
    if model.ratio_field is not None and model.ratio_field in prompt_object:
        ratio = prompt_object[model.ratio_field]
        if ratio not in model.ratios:
            return f"Unsupported {model.ratio_field} {ratio!r} for model {name}"
    for key, top in (("temperature", 2), ("topP", 1)):
        value = prompt_object.get(key)
        if value is not None and (not isinstance(value, int | float) or not 0 <= value <= top):
            return f"{key} must be a number from 0 to {top}"
    return None


def _echo(model: str, prompt_object: dict[str, Any], ratio: str) -> dict[str, Any]:
    """The ``promptObject`` a success echoes. The 2.5 page's example shows Flux's
    fields (``aspect_ratio``, ``output_quality``, ``seed``); the others echo the request."""
    if model != MODEL:
        return dict(prompt_object)
    return {
        "prompt": prompt_object["prompt"],
        "aspect_ratio": ratio,
        "output_quality": 90,
        "seed": random.randint(1, 2**31 - 1),
    }


def dimensions(ratio: str, size: str = "1K") -> tuple[int, int]:
    """The fake's image size for ``ratio`` at ``size``: Gemini's table for the 10 ratios,
    else about one megapixel of that shape; scaled for 512/2K/4K (a guess, not vendor data)."""
    scale = _SIZE_SCALE[size]
    if ratio in SIZES:
        width, height = SIZES[ratio]
    else:
        left, _, right = ratio.partition(":")
        aspect = int(left) / int(right)
        width = round((1024 * 1024 * aspect) ** 0.5 / 16) * 16
        height = round((1024 * 1024 / aspect) ** 0.5 / 16) * 16
    return round(width * scale), round(height * scale)


def edit_transform(source: bytes) -> bytes:
    """The fake editor's answer to any prompt: ``source`` with its colours inverted
    (alpha kept), same size, as PNG, so it is exactly reproducible."""
    with Image.open(io.BytesIO(source)) as opened:
        image = opened.convert("RGBA") if "A" in opened.getbands() else opened.convert("RGB")
    if image.mode == "RGBA":
        red, green, blue, alpha = image.split()
        inverted = ImageOps.invert(Image.merge("RGB", (red, green, blue)))
        inverted.putalpha(alpha)
    else:
        inverted = ImageOps.invert(image)
    return encode(inverted, "PNG")


def _literal(scripted: Scripted) -> web.Response:
    if scripted.text_body is not None:
        headers = {"Content-Type": "text/plain", **scripted.headers}
        return web.Response(status=scripted.status, text=scripted.text_body, headers=headers)
    return web.json_response(scripted.json_body, status=scripted.status, headers=scripted.headers)


def make_image(
    size: tuple[int, int], number: int, *, fmt: str = "WEBP", alpha: bool = False
) -> bytes:
    """A non-uniform test image (noise, gradients, the call number) encoded as ``fmt``."""
    width, height = size
    # Quarter-resolution noise, smoothed up: real texture that resists compression,
    # but cheap to encode so every fake call stays fast.
    noise = Image.effect_noise((max(1, width // 4), max(1, height // 4)), 48).resize(
        size, Image.Resampling.BILINEAR
    )
    down = Image.linear_gradient("L").resize(size)
    across = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize(size)
    image = Image.merge("RGB", (noise, across, down))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(24, height // 6))
    draw.rectangle((width // 10, height // 10, width // 2, height // 3), fill=(255, 255, 255))
    draw.text((width // 10 + 8, height // 10 + 4), f"#{number}", fill=(0, 0, 0), font=font)
    if alpha:
        image.putalpha(Image.linear_gradient("L").resize(size))
    return encode(image, fmt)


def encode(image: Image.Image, fmt: str) -> bytes:
    """Encode a Pillow image (JPEG drops alpha), favouring speed over size."""
    out = io.BytesIO()
    fmt = fmt.upper()
    if fmt == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    options: dict[str, Any] = {"WEBP": {"method": 0}, "PNG": {"compress_level": 1}}.get(fmt, {})
    image.save(out, fmt, **options)
    return out.getvalue()


def _to_bytes(data: bytes | Image.Image, fmt: str) -> bytes:
    return data if isinstance(data, bytes) else encode(data, fmt)


def _format_of(data: bytes) -> str:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format or "BIN"
    except Exception:
        return "BIN"
