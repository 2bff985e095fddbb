"""Long lists split over embed fields within Discord's limits."""

from __future__ import annotations

from bot.embeds import FIELD_VALUE_LIMIT, line_fields

LINES = [f"<@&{1_300_000_000_000_000_000 + n}>: {n}" for n in range(250)]


def test_forty_lines_split_over_fields_of_at_most_1024_characters():
    fields = line_fields("Roles", LINES[:40], room=5000, max_fields=20)
    assert [name for name, _ in fields] == ["Roles", "Roles (continued)"]
    assert all(len(value) <= FIELD_VALUE_LIMIT for _, value in fields)
    assert "\n".join(value for _, value in fields).splitlines() == LINES[:40]


def test_what_does_not_fit_is_counted_within_the_room():
    fields = line_fields("Roles", LINES, room=2000, max_fields=20)
    total = sum(len(name) + len(value) for name, value in fields)
    assert total <= 2000
    shown = "\n".join(value for _, value in fields).splitlines()
    assert shown[-1] == f"…and {len(LINES) - (len(shown) - 1)} more"
    assert shown[:-1] == LINES[: len(shown) - 1]


def test_the_field_count_is_respected():
    fields = line_fields("Roles", LINES, room=6000, max_fields=2)
    assert len(fields) == 2
    assert fields[-1][1].splitlines()[-1].startswith("…and ")


def test_nothing_to_list_adds_no_field():
    assert line_fields("Roles", [], room=6000, max_fields=25) == []
