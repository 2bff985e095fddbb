"""Moderation SQL: blocked words, role limits, the audit channel."""

from __future__ import annotations

from bot.storage.database import Database

MAX_BLOCKED_WORDS = 500


async def blocked_words(db: Database, guild_id: int) -> list[str]:
    """A server's blocked words (normalised), alphabetically."""
    rows = await db.fetchall(
        "SELECT word FROM blocked_words WHERE guild_id = ? ORDER BY word", (guild_id,)
    )
    return [r["word"] for r in rows]


async def add_blocked_word(db: Database, guild_id: int, word: str, *, by: int, now: float) -> bool:
    """Block a (normalised) word; False if it was already blocked or the list is full."""
    async with db.transaction():
        row = await db.fetchone(
            "SELECT count(*) AS n FROM blocked_words WHERE guild_id = ?", (guild_id,)
        )
        if row is not None and row["n"] >= MAX_BLOCKED_WORDS:
            return False
        changed = await db.execute_rowcount(
            "INSERT INTO blocked_words (guild_id, word, added_by, added_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (guild_id, word) DO NOTHING",
            (guild_id, word, by, now),
        )
    return changed > 0


async def remove_blocked_word(db: Database, guild_id: int, word: str) -> bool:
    """Unblock a word; False if it was not blocked."""
    changed = await db.execute_rowcount(
        "DELETE FROM blocked_words WHERE guild_id = ? AND word = ?", (guild_id, word)
    )
    return changed > 0


async def set_role_limit(db: Database, guild_id: int, role_id: int, user_daily: int) -> None:
    """Give members with a role their own daily limit."""
    await db.execute(
        "INSERT INTO role_limits (guild_id, role_id, user_daily) VALUES (?, ?, ?)"
        " ON CONFLICT (guild_id, role_id) DO UPDATE SET user_daily = excluded.user_daily",
        (guild_id, role_id, user_daily),
    )


async def clear_role_limit(db: Database, guild_id: int, role_id: int) -> bool:
    """Remove a role's limit; False if it had none."""
    changed = await db.execute_rowcount(
        "DELETE FROM role_limits WHERE guild_id = ? AND role_id = ?", (guild_id, role_id)
    )
    return changed > 0


async def role_limits(db: Database, guild_id: int) -> dict[int, int]:
    """Every role limit of a server: role id to daily images."""
    rows = await db.fetchall(
        "SELECT role_id, user_daily FROM role_limits WHERE guild_id = ?", (guild_id,)
    )
    return {r["role_id"]: r["user_daily"] for r in rows}


async def audit_channel(db: Database, guild_id: int) -> tuple[int | None, str | None]:
    """The audit channel id (None when off) and why auditing turned itself off, if it did."""
    row = await db.fetchone(
        "SELECT audit_channel_id, audit_disabled_reason FROM guild_settings WHERE guild_id = ?",
        (guild_id,),
    )
    if row is None:
        return None, None
    return row["audit_channel_id"], row["audit_disabled_reason"]


async def set_audit_channel(db: Database, guild_id: int, channel_id: int | None) -> None:
    """Post audits to ``channel_id`` (None turns auditing off); clears any old failure."""
    await db.execute(
        "INSERT INTO guild_settings (guild_id, audit_channel_id) VALUES (?, ?)"
        " ON CONFLICT (guild_id) DO UPDATE SET audit_channel_id = excluded.audit_channel_id,"
        " audit_disabled_reason = NULL",
        (guild_id, channel_id),
    )


async def disable_audit(db: Database, guild_id: int, reason: str) -> None:
    """Auditing failed: turn it off and keep the reason for the next moderator."""
    await db.execute(
        "UPDATE guild_settings SET audit_channel_id = NULL, audit_disabled_reason = ?"
        " WHERE guild_id = ?",
        (reason, guild_id),
    )


async def acknowledge_audit_failure(db: Database, guild_id: int) -> None:
    """A moderator has been told; forget the reason."""
    await db.execute(
        "UPDATE guild_settings SET audit_disabled_reason = NULL WHERE guild_id = ?", (guild_id,)
    )
