"""Partial emoji of buttons and select options, checked as Discord checks them.

A component's ``emoji`` is a partial emoji object (discord-api-docs, "Component
Reference"): a custom emoji by ``id`` (a snowflake), or a Unicode emoji by ``name``.
Anything else, an empty object or a name that is not an emoji (``"black_nib"``,
``":smile:"``), is refused with ``BUTTON_COMPONENT_INVALID_EMOJI`` at ``emoji.name``,
also inside select menus (reported: discord-api-docs issue #8071 and the error
bodies developers quote). Deciding what is "an emoji" needs Unicode's emoji data;
:func:`is_unicode_emoji` approximates it with character categories, which accepts
every emoji the bot uses and refuses words and shortcodes.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .validate import FormErrors, Path

_JOINERS = {
    0x200D,  # zero width joiner
    0xFE0E,  # text presentation selector
    0xFE0F,  # emoji presentation selector
    0x20E3,  # combining enclosing keycap
}
# Emoji whose characters are not "Symbol, other" (So): arrows (Sm), punctuation (Po, Pd).
_OTHER_EMOJI = {0x203C, 0x2049, 0x2194, 0x2195, 0x2196, 0x2197, 0x2198, 0x2199}
_OTHER_EMOJI |= {0x21A9, 0x21AA, 0x2934, 0x2935, 0x3030, 0x303D}
_KEYCAP_BASES = set("0123456789#*")


def is_unicode_emoji(name: str) -> bool:
    """Whether ``name`` looks like one Unicode emoji (with modifiers, ZWJ sequences, flags)."""
    if not name or len(name) > 32:
        return False
    pictographs = 0
    for char in name:
        point = ord(char)
        category = unicodedata.category(char)
        if point in _JOINERS or 0xE0020 <= point <= 0xE007F:  # joiners, flag tags
            continue
        if 0x1F3FB <= point <= 0x1F3FF:  # skin tones
            continue
        keycap = char in _KEYCAP_BASES and "\u20e3" in name
        if not (category == "So" or point in _OTHER_EMOJI or keycap):
            return False
        pictographs += 1
    return pictographs > 0


def check_emoji(errors: FormErrors, path: Path, emoji: Any) -> None:
    """Add Discord's error for a component emoji that is not a usable partial emoji."""
    if emoji is None:
        return
    if not isinstance(emoji, dict):
        errors.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    raw_id = emoji.get("id")
    if raw_id is not None:
        if not (str(raw_id).isdigit() and int(raw_id) < 1 << 64):
            errors.add((*path, "id"), "NUMBER_TYPE_COERCE", f"Value {raw_id!r} is not snowflake.")
        return
    name = emoji.get("name")
    if not isinstance(name, str) or not is_unicode_emoji(name):
        errors.add((*path, "name"), "BUTTON_COMPONENT_INVALID_EMOJI", "Invalid emoji")
