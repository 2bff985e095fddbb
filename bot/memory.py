"""Handing freed memory back to the operating system after each image.

Each job briefly holds an image several times over (download, decode check,
upload). glibc keeps such freed memory in its heaps (one per thread that
allocated it) instead of returning it, so a small VPS would see the bot's
resident size ratchet up with every image. ``malloc_trim`` returns the free
pages of every heap; on other C libraries this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _load_trim()


def release_free_memory() -> None:
    """Return freed heap memory to the OS (glibc only; cheap, a few milliseconds)."""
    if _TRIM is not None:
        _TRIM(0)
