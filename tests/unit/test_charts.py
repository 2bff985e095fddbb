"""The /stats chart: a PNG of the right size whose bars follow the counts."""

import datetime
import io

import pytest
from PIL import Image

from bot.charts import ACCENT, BACKGROUND, daily_chart

DAY = datetime.timedelta(days=1)
END = datetime.date(2024, 11, 3)


def last_days(counts):
    """(day, count) pairs ending on END, oldest first."""
    return [(END - DAY * (len(counts) - 1 - n), count) for n, count in enumerate(counts)]


def decode(png):
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return image.convert("RGB")


def bars(image):
    """Accent-coloured pixels per bar: one entry per run of columns containing any."""
    pixels = image.load()
    per_column = [
        sum(pixels[x, y] == ACCENT for y in range(image.height)) for x in range(image.width)
    ]
    found: list[int] = []
    inside = False
    for count in per_column:
        if count and not inside:
            found.append(0)
        if count:
            found[-1] += count
        inside = bool(count)
    return found


def test_png_of_the_default_size():
    image = decode(daily_chart(last_days([1, 2, 3] * 10), title="Images per day"))
    assert image.size == (800, 360)
    assert image.getpixel((0, 0)) == BACKGROUND


@pytest.mark.parametrize(("width", "height"), [(1200, 500), (400, 180), (200, 100)])
def test_png_of_a_given_size(width, height):
    image = decode(daily_chart(last_days([4, 0, 9]), title="t", width=width, height=height))
    assert image.size == (width, height)


def test_taller_bar_has_more_accent_pixels():
    image = decode(daily_chart(last_days([3, 12, 6]), title="Images per day"))
    short, tall, middle = bars(image)
    assert tall > middle > short > 0


def test_bars_keep_the_order_of_the_days():
    # Given newest first, the chart still runs oldest to newest, left to right.
    pairs = last_days([2, 10])
    left, right = bars(decode(daily_chart(list(reversed(pairs)), title="t")))
    assert right > left


def test_zero_day_has_no_bar():
    image = decode(daily_chart(last_days([5, 0, 5]), title="t"))
    assert len(bars(image)) == 2


def test_all_zero():
    image = decode(daily_chart(last_days([0] * 30), title="Images per day"))
    assert image.size == (800, 360)
    assert bars(image) == []


def test_single_day():
    image = decode(daily_chart([(END, 7)], title="Today"))
    assert len(bars(image)) == 1


def test_single_image_among_many_still_shows():
    image = decode(daily_chart(last_days([1, 5000]), title="t"))
    small, big = bars(image)
    assert 0 < small < big


def test_a_year_of_days():
    image = decode(daily_chart(last_days([n % 17 for n in range(365)]), title="A year"))
    assert image.size == (800, 360)
    assert bars(image)


def test_missing_days_count_as_zero():
    with_gap = daily_chart([(END - 2 * DAY, 5), (END, 5)], title="t")
    explicit = daily_chart([(END - 2 * DAY, 5), (END - DAY, 0), (END, 5)], title="t")
    assert with_gap == explicit


def test_repeated_day_is_summed():
    repeated = daily_chart([(END - DAY, 1), (END, 2), (END, 3)], title="t")
    summed = daily_chart([(END - DAY, 1), (END, 5)], title="t")
    assert repeated == summed


def test_title_is_drawn():
    # Text is light on dark: the title area is not plain background.
    with_title = decode(daily_chart(last_days([1, 2]), title="Images per day"))
    without = decode(daily_chart(last_days([1, 2]), title=""))
    box = (0, 0, 400, 50)
    assert with_title.crop(box).tobytes() != without.crop(box).tobytes()
    assert without.crop(box).getcolors() == [(400 * 50, BACKGROUND)]


def test_no_days_is_an_error():
    with pytest.raises(ValueError):
        daily_chart([], title="t")


def test_negative_count_is_an_error():
    with pytest.raises(ValueError):
        daily_chart(last_days([1, -1]), title="t")
