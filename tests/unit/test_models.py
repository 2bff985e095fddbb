"""The model table and the bodies built from it (bot/models.py)."""

from __future__ import annotations

import pytest

from bot.config import load_settings
from bot.models import EDIT, GENERATE, MODELS, aspect_ratios, edit_profile, profile

REQUIRED = {"DISCORD_TOKEN": "token", "ONEMIN_API_KEY": "key"}
TEN = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


def test_the_table_is_the_specs():
    rows = {
        model_id: (spec.generates, spec.edits, spec.ratio_field, len(spec.ratios), spec.sizes)
        for model_id, spec in MODELS.items()
    }
    assert rows == {
        "gemini-2.5-flash-image": (True, False, "aspect_ratio", 10, ()),
        "gemini-2.5-flash-image-preview": (False, True, None, 0, ()),
        "gemini-3.1-flash-image-preview": (
            True,
            True,
            "aspectRatio",
            14,
            ("512", "1K", "2K", "4K"),
        ),
        "gemini-3-pro-image-preview": (True, True, None, 0, ("1K", "2K", "4K")),
    }
    assert MODELS["gemini-2.5-flash-image"].ratios == TEN
    assert set(TEN) < set(MODELS["gemini-3.1-flash-image-preview"].ratios)


@pytest.mark.parametrize(
    ("model", "prompt_object"),
    [
        (
            "gemini-2.5-flash-image-preview",
            {"imageUrl": "images/a.png", "prompt": "P", "referenceImage1": "images/b.png"},
        ),
        (
            "gemini-3.1-flash-image-preview",
            {
                "imageUrl": "images/a.png",
                "prompt": "P",
                "referenceImage1": "images/b.png",
                "imageSize": "1K",
            },
        ),
        (
            "gemini-3-pro-image-preview",
            {
                "imageUrl": "images/a.png",
                "prompt": "P",
                "referenceImage1": "images/b.png",
                "imageSize": "1K",
            },
        ),
    ],
)
def test_edit_bodies_per_editing_model(model, prompt_object):
    body = profile(model, EDIT).edit_body("P", "images/a.png", ["images/b.png"])
    assert body == {"type": "IMAGE_EDITOR", "model": model, "promptObject": prompt_object}


def test_an_edit_takes_at_most_two_references_and_no_ratio():
    editing = edit_profile(load_settings(REQUIRED))
    assert editing.ratio_field is None
    body = editing.edit_body("P", "a.png", ["b.png", "c.png"])
    assert body["promptObject"] == {
        "imageUrl": "a.png",
        "prompt": "P",
        "referenceImage1": "b.png",
        "referenceImage2": "c.png",
    }
    with pytest.raises(ValueError, match="two"):
        editing.edit_body("P", "a.png", ["b", "c", "d"])
    with pytest.raises(ValueError, match="not generation"):
        editing.generation_body("P")


def test_the_ratio_field_override():
    renamed = profile("gemini-2.5-flash-image", GENERATE, ratio_field="aspectRatio")
    assert renamed.generation_body("P", "16:9")["promptObject"] == {
        "prompt": "P",
        "aspectRatio": "16:9",
    }
    emptied = profile("gemini-3.1-flash-image-preview", GENERATE, ratio_field="")
    assert emptied.ratios == ()
    assert emptied.generation_body("P", "16:9")["promptObject"] == {
        "prompt": "P",
        "imageSize": "1K",
    }
    given = profile("gemini-3-pro-image-preview", GENERATE, ratio_field="aspectRatio")
    assert given.ratios == TEN


def test_an_unknown_model_gets_prompt_and_the_ten_ratios():
    unknown = profile("vendor-new-model", GENERATE, image_size="4K")
    assert not unknown.known
    assert unknown.ratios == TEN
    assert unknown.generation_body("P", "9:16") == {
        "type": "IMAGE_GENERATOR",
        "model": "vendor-new-model",
        "promptObject": {"prompt": "P", "aspect_ratio": "9:16"},
    }


def test_aspect_ratios_follow_the_settings():
    assert aspect_ratios(load_settings(REQUIRED)) == TEN
    three = load_settings({**REQUIRED, "ONEMIN_MODEL": "gemini-3-pro-image-preview"})
    assert aspect_ratios(three) == ()
