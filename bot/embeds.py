"""Discord's embed limits, and fitting a long list into them.

discord-api-docs, "Message Resource", Embed Limits: a field's value holds at most
1024 characters, an embed at most 25 fields, and all the text of a message's
embeds together at most 6000 characters. A list that could outgrow one field (a
server's role limits) is split over several; what cannot fit at all is counted
in a last line rather than making Discord refuse the whole answer.
"""

from __future__ import annotations

from collections.abc import Sequence

FIELD_VALUE_LIMIT = 1024
FIELD_NAME_LIMIT = 256
MAX_FIELDS = 25
EMBED_TOTAL_LIMIT = 6000


def line_fields(
    name: str, lines: Sequence[str], *, room: int, max_fields: int
) -> list[tuple[str, str]]:
    """``lines`` as (name, value) fields of at most 1024 characters each.

    The fields take at most ``room`` characters (names and values, as Discord
    counts them) and at most ``max_fields`` fields; lines that do not fit are
    replaced by "…and N more". Later fields are named "``name`` (continued)".
    """
    if not lines or max_fields < 1:
        return []
    fields: list[tuple[str, list[str]]] = []
    used = 0
    for index, line in enumerate(lines):
        line = line[: FIELD_VALUE_LIMIT - 20]  # room for the "…and N more" line
        rest = len(lines) - index - 1
        # Keep space for the "…and N more" line in case a later line does not fit.
        tail = len(_more(rest)) + 1 if rest else 0
        if fields:
            field_name, values = fields[-1]
            grown = len("\n".join([*values, line]))
            if grown + tail <= FIELD_VALUE_LIMIT and used + len(line) + 1 + tail <= room:
                values.append(line)
                used += len(line) + 1
                continue
        field_name = name if not fields else f"{name} (continued)"
        field_name = field_name[:FIELD_NAME_LIMIT]
        cost = len(field_name) + len(line)
        if len(fields) >= max_fields or used + cost + tail > room:
            _append_more(fields, len(lines) - index)
            break
        fields.append((field_name, [line]))
        used += cost
    return [(field_name, "\n".join(values)) for field_name, values in fields]


def _more(count: int) -> str:
    return f"…and {count} more"


def _append_more(fields: list[tuple[str, list[str]]], count: int) -> None:
    if fields:
        fields[-1][1].append(_more(count))
