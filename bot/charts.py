"""PNG charts for ``/stats``, drawn with Pillow alone.

Colours follow Discord's dark theme, where the chart is shown inside an
embed. Discord shrinks embed images to roughly half their width, so text is
drawn larger than it would be for an image viewed at full size.
"""

from __future__ import annotations

import datetime
import io
import math
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageFont

__all__ = ["ACCENT", "BACKGROUND", "daily_chart"]

Colour = tuple[int, int, int]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

BACKGROUND: Colour = (43, 45, 49)  # Discord's dark embed background, #2b2d31
ACCENT: Colour = (88, 101, 242)  # Discord's blurple, #5865f2: the bars
TEXT: Colour = (219, 222, 225)  # primary text, #dbdee1
MUTED: Colour = (148, 155, 164)  # secondary text, #949ba4
GRID: Colour = (63, 65, 71)  # gridlines, #3f4147
BASELINE: Colour = (90, 93, 100)

# Most gridlines above zero; more would crowd the labels once shrunk.
_MAX_INTERVALS = 4
# Numbers above the bars only when the days are few enough to read them.
_MAX_VALUE_LABELS = 14


def _days(counts: Sequence[tuple[datetime.date, int]]) -> list[tuple[datetime.date, int]]:
    """Every day from the first to the last, in order; a missing day counts 0.

    Storage only returns days that had images, so gaps are filled here rather
    than in every caller; a day listed twice is summed.
    """
    if not counts:
        raise ValueError("a chart needs at least one day")
    totals: dict[datetime.date, int] = {}
    for day, count in counts:
        if count < 0:
            raise ValueError(f"negative count {count} for {day}")
        totals[day] = totals.get(day, 0) + count
    first, last = min(totals), max(totals)
    span = (last - first).days + 1
    return [
        (day, totals.get(day, 0))
        for day in (first + datetime.timedelta(days=offset) for offset in range(span))
    ]


def _ticks(peak: int) -> list[int]:
    """Gridline values from 0: a round step (1, 2, 5 times a power of ten) covering ``peak``."""
    peak = max(peak, 1)  # all zero still gets a 0 and a 1 line
    exponent = 0
    while True:
        for multiple in (1, 2, 5):
            step = multiple * 10**exponent
            intervals = math.ceil(peak / step)
            if intervals <= _MAX_INTERVALS:
                return [step * n for n in range(intervals + 1)]
        exponent += 1


def _width(draw: ImageDraw.ImageDraw, text: str, font: Font) -> float:
    left, _, right, _ = draw.textbbox((0, 0), text, font=font)
    return right - left


def daily_chart(
    counts: Sequence[tuple[datetime.date, int]],
    *,
    title: str,
    width: int = 800,
    height: int = 360,
) -> bytes:
    """A PNG bar chart of images per day, oldest day on the left.

    ``counts`` holds (day, images) pairs in any order; days missing between
    the first and the last are drawn as zero. Raises :class:`ValueError` for
    no days or a negative count.
    """
    days = _days(counts)
    # Sizes are chosen for the default 800 x 360 and scale with the image.
    scale = min(width / 800, height / 360)
    margin = round(20 * scale)
    title_font = ImageFont.load_default(size=max(10, round(24 * scale)))
    label_font = ImageFont.load_default(size=max(8, round(16 * scale)))

    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)

    total = sum(count for _, count in days)
    draw.text((margin, margin), title, fill=TEXT, font=title_font, anchor="lt")
    summary = f"{total:,} in total" if len(days) > 1 else f"{total:,}"
    draw.text((width - margin, margin), summary, fill=MUTED, font=label_font, anchor="rt")

    ticks = _ticks(max(count for _, count in days))
    tick_labels = [f"{tick:,}" for tick in ticks]
    label_height = round(16 * scale)
    plot_left = margin + max(_width(draw, label, label_font) for label in tick_labels) + margin / 2
    plot_right = width - margin
    plot_top = margin + round(24 * scale) + margin + label_height  # room for value labels
    plot_bottom = height - margin - label_height - margin / 2
    plot_height = plot_bottom - plot_top
    plot_width = plot_right - plot_left

    for tick, label in zip(ticks, tick_labels, strict=True):
        y = round(plot_bottom - tick / ticks[-1] * plot_height)
        draw.line([(plot_left, y), (plot_right, y)], fill=BASELINE if tick == 0 else GRID)
        draw.text((plot_left - margin / 2, y), label, fill=MUTED, font=label_font, anchor="rm")

    slot = plot_width / len(days)
    # Capped so that a chart of one or two days does not turn into blocks.
    bar_width = max(1, round(min(slot * 0.7, 72 * scale)))
    show_values = len(days) <= _MAX_VALUE_LABELS
    for index, (_, count) in enumerate(days):
        if count == 0:
            continue
        x0 = round(plot_left + index * slot + (slot - bar_width) / 2)
        # A day with a single image among hundreds must still show.
        bar_height = max(2, round(count / ticks[-1] * plot_height))
        top = round(plot_bottom) - bar_height
        radius = min(4 * scale, bar_width / 2, bar_height / 2)
        draw.rounded_rectangle(
            [(x0, top), (x0 + bar_width - 1, round(plot_bottom) - 1)],
            radius=radius,
            fill=ACCENT,
            corners=(True, True, False, False),
        )
        value = f"{count:,}"
        if show_values and _width(draw, value, label_font) <= slot:
            draw.text(
                (x0 + bar_width / 2, top - 4 * scale),
                value,
                fill=TEXT,
                font=label_font,
                anchor="mb",
            )

    # Date labels every few days, always including the newest, and never overlapping.
    sample = _width(draw, "00-00", label_font) + margin
    every = max(1, math.ceil(sample / slot))
    for index, (day, _) in enumerate(days):
        if (len(days) - 1 - index) % every:
            continue
        label = day.strftime("%m-%d")
        half = _width(draw, label, label_font) / 2
        centre = plot_left + (index + 0.5) * slot
        centre = min(max(centre, half + 1), width - half - 1)  # keep it inside the image
        draw.text(
            (centre, plot_bottom + margin / 2), label, fill=MUTED, font=label_font, anchor="mt"
        )

    if total == 0:
        draw.text(
            ((plot_left + plot_right) / 2, (plot_top + plot_bottom) / 2),
            "No images in this period",
            fill=MUTED,
            font=label_font,
            anchor="mm",
        )

    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
