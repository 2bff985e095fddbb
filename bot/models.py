"""The image models the bot knows, and the one place a request body is built.

Each 1min.ai model takes its own ``promptObject`` fields (vendor pages "Image
Generator" and "Image Text Editor" per model, gathered in
``shared/vendor/1min-api-notes.md``). The table below says, per model id, which
features it serves, the name of its aspect-ratio field (or none), the ratios it
takes and the ``imageSize`` values it requires. :class:`ModelProfile` is that
entry after the operator's settings (``ONEMIN_ASPECT_RATIO_FIELD``,
``ONEMIN_IMAGE_SIZE``) and builds the bodies; nothing else does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

Feature = Literal["IMAGE_GENERATOR", "IMAGE_EDITOR"]
GENERATE: Final[Feature] = "IMAGE_GENERATOR"
EDIT: Final[Feature] = "IMAGE_EDITOR"

DEFAULT_MODEL: Final = "gemini-2.5-flash-image"
DEFAULT_EDIT_MODEL: Final = "gemini-2.5-flash-image-preview"
DEFAULT_IMAGE_SIZE: Final = "1K"
# What an unknown model gets: the field and ratios of the default model.
FALLBACK_RATIO_FIELD: Final = "aspect_ratio"

# Gemini 2.5 Flash Image's output sizes at 1K, per aspect ratio (Google's table,
# quoted in SPEC.md). The keys are the 10 ratios, in the order /imagine offers them.
GEMINI_SIZES: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {
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
)
TEN_RATIOS: Final = tuple(GEMINI_SIZES)
# gemini-3.1-flash-image-preview's documented aspectRatio values, square first.
GEMINI_31_RATIOS: Final = (
    "1:1",
    "1:4",
    "1:8",
    "2:3",
    "3:2",
    "3:4",
    "4:1",
    "4:3",
    "4:5",
    "5:4",
    "8:1",
    "9:16",
    "16:9",
    "21:9",
)
# Every imageSize value any known model documents.
IMAGE_SIZES: Final = ("512", "1K", "2K", "4K")


@dataclass(frozen=True)
class ModelSpec:
    """One row of the model table, as the vendor documents the model.

    ``ratio_field`` is the ``promptObject`` key of the aspect ratio for
    generation (None: the model documents none); ``sizes`` are the ``imageSize``
    values it requires (empty: ``imageSize`` is never sent).
    """

    id: str
    generates: bool
    edits: bool
    ratio_field: str | None
    ratios: tuple[str, ...]
    sizes: tuple[str, ...] = ()
    known: bool = True

    @property
    def requires_size(self) -> bool:
        """True when every request to this model must carry ``imageSize``."""
        return bool(self.sizes)


MODELS: Final[Mapping[str, ModelSpec]] = MappingProxyType(
    {
        spec.id: spec
        for spec in (
            # No ratio field is documented for it; the response example echoes
            # Flux's snake_case ``aspect_ratio``, which SPEC.md tells us to send.
            ModelSpec(
                "gemini-2.5-flash-image",
                generates=True,
                edits=False,
                ratio_field="aspect_ratio",
                ratios=TEN_RATIOS,
            ),
            # Editor page only: imageUrl, prompt, referenceImage1/2.
            ModelSpec(
                "gemini-2.5-flash-image-preview",
                generates=False,
                edits=True,
                ratio_field=None,
                ratios=(),
            ),
            ModelSpec(
                "gemini-3.1-flash-image-preview",
                generates=True,
                edits=True,
                ratio_field="aspectRatio",
                ratios=GEMINI_31_RATIOS,
                sizes=IMAGE_SIZES,
            ),
            # Its generator page documents no aspect-ratio field.
            ModelSpec(
                "gemini-3-pro-image-preview",
                generates=True,
                edits=True,
                ratio_field=None,
                ratios=(),
                sizes=("1K", "2K", "4K"),
            ),
        )
    }
)


def lookup(model_id: str) -> ModelSpec:
    """The table's row for ``model_id``; an unknown id gets the fallback row.

    The fallback is what SPEC.md promises for a model the bot does not know:
    ``prompt`` only, plus ``aspect_ratio`` with the 10 ratios, no ``imageSize``.
    """
    spec = MODELS.get(model_id)
    if spec is not None:
        return spec
    return ModelSpec(
        model_id,
        generates=True,
        edits=True,
        ratio_field=FALLBACK_RATIO_FIELD,
        ratios=TEN_RATIOS,
        known=False,
    )


@dataclass(frozen=True)
class ModelProfile:
    """How the bot talks to one model for one feature, the operator's settings applied.

    ``ratio_field`` is None when no ratio is ever sent (and then ``ratios`` is
    empty); ``image_size`` is sent as ``imageSize`` when not None.
    """

    feature: Feature
    model: str
    known: bool
    ratio_field: str | None
    ratios: tuple[str, ...]
    image_size: str | None

    def generation_body(self, prompt: str, aspect_ratio: str | None = None) -> dict[str, Any]:
        """The whole ``/api/features`` body for one generation.

        The ratio goes in only when chosen and only if this model takes it; one
        it does not take (a job queued before the operator changed the model) is
        dropped with a warning rather than failing the member's job.
        """
        if self.feature != GENERATE:
            raise ValueError(f"{self.model} is configured for {self.feature}, not generation")
        prompt_object: dict[str, Any] = {"prompt": prompt}
        if aspect_ratio is not None:
            if self.ratio_field is not None and aspect_ratio in self.ratios:
                prompt_object[self.ratio_field] = aspect_ratio
            else:
                log.warning(
                    "Aspect ratio %s is not one %s takes; sending the prompt without it",
                    aspect_ratio,
                    self.model,
                )
        if self.image_size is not None:
            prompt_object["imageSize"] = self.image_size
        return {"type": self.feature, "model": self.model, "promptObject": prompt_object}

    def edit_body(
        self, prompt: str, image_path: str, references: Sequence[str] = ()
    ) -> dict[str, Any]:
        """The whole ``/api/features`` body for one edit.

        ``image_path`` and ``references`` (at most two) are paths the Asset API
        returned (``fileContent.path``), not URLs.
        """
        if self.feature != EDIT:
            raise ValueError(f"{self.model} is configured for {self.feature}, not editing")
        if len(references) > 2:
            raise ValueError("at most two reference images")
        prompt_object: dict[str, Any] = {"imageUrl": image_path, "prompt": prompt}
        for number, path in enumerate(references, start=1):
            prompt_object[f"referenceImage{number}"] = path
        if self.image_size is not None:
            prompt_object["imageSize"] = self.image_size
        return {"type": self.feature, "model": self.model, "promptObject": prompt_object}

    def describe(self) -> str:
        """One line for an operator: the model and what the bot sends it."""
        parts = [self.model if self.known else f"{self.model} (not in the bot's table)"]
        if self.feature == GENERATE:
            if self.ratio_field is None:
                parts.append("no aspect ratio")
            else:
                parts.append(f"promptObject.{self.ratio_field} with {len(self.ratios)} ratios")
        if self.image_size is not None:
            parts.append(f"imageSize {self.image_size}")
        return ", ".join(parts)


def profile(
    model_id: str,
    feature: Feature,
    *,
    image_size: str = DEFAULT_IMAGE_SIZE,
    ratio_field: str | None = None,
) -> ModelProfile:
    """The profile of ``model_id`` for ``feature``.

    ``ratio_field`` overrides the table's field name like
    ``ONEMIN_ASPECT_RATIO_FIELD``: None keeps the table's, ``""`` sends none. A
    model that names no ratios of its own gets the 10 when given a field.
    """
    spec = lookup(model_id)
    field = spec.ratio_field if ratio_field is None else (ratio_field or None)
    if feature == EDIT:
        # No editor page documents an aspect ratio: the edit keeps the source's shape.
        field = None
    ratios = (spec.ratios or TEN_RATIOS) if field is not None else ()
    return ModelProfile(
        feature=feature,
        model=spec.id,
        known=spec.known,
        ratio_field=field,
        ratios=ratios,
        image_size=image_size if spec.requires_size else None,
    )


def generation_profile(settings: Settings) -> ModelProfile:
    """The generation model (``ONEMIN_MODEL``) as configured."""
    return profile(
        settings.onemin_model,
        GENERATE,
        image_size=settings.onemin_image_size,
        ratio_field=settings.onemin_aspect_ratio_field,
    )


def edit_profile(settings: Settings) -> ModelProfile:
    """The editing model (``ONEMIN_EDIT_MODEL``) as configured."""
    return profile(settings.onemin_edit_model, EDIT, image_size=settings.onemin_image_size)


def aspect_ratios(settings: Settings) -> tuple[str, ...]:
    """The ratios a member may choose on ``/imagine``; empty: no ``aspect_ratio`` option."""
    return generation_profile(settings).ratios


def describe_settings(settings: Settings) -> str:
    """The generation and editing models as configured, in one line for an operator."""
    return (
        f"generation model {generation_profile(settings).describe()}; "
        f"editing model {edit_profile(settings).describe()}"
    )


def check_model(model_id: str, feature: Feature) -> str | None:
    """Why ``model_id`` cannot serve ``feature``, or None if it can (or is unknown)."""
    spec = lookup(model_id)
    serves = spec.generates if feature == GENERATE else spec.edits
    if serves:
        return None
    others = [s.id for s in MODELS.values() if (s.generates if feature == GENERATE else s.edits)]
    what = "generate" if feature == GENERATE else "edit"
    return f"{model_id} does not {what} images; use one of {', '.join(others)}"


def check_image_size(size: str, model_ids: Sequence[str]) -> str | None:
    """Why ``size`` cannot be sent to one of ``model_ids``, or None if it can."""
    if size not in IMAGE_SIZES:
        return f"must be one of {', '.join(IMAGE_SIZES)}"
    for model_id in model_ids:
        spec = lookup(model_id)
        if spec.requires_size and size not in spec.sizes:
            return f"{model_id} takes {', '.join(spec.sizes)}, not {size}"
    return None


def normalize_image_size(raw: str) -> str:
    """``1k`` -> ``1K``: the vendor spells sizes with a capital K."""
    return raw.strip().upper()
