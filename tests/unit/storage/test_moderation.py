"""Per-server moderation settings: blocked words, role limits, the audit channel."""

import sqlite3

import pytest

from bot.storage import moderation


async def test_blocked_words_are_listed_alphabetically_per_server(db):
    assert await moderation.add_blocked_word(db, 1, "zebra", by=7, now=10.0)
    assert await moderation.add_blocked_word(db, 1, "apple", by=8, now=11.0)
    assert await moderation.add_blocked_word(db, 2, "mango", by=9, now=12.0)
    assert await moderation.blocked_words(db, 1) == ["apple", "zebra"]
    assert await moderation.blocked_words(db, 2) == ["mango"]
    assert await moderation.blocked_words(db, 3) == []
    row = await db.fetchone(
        "SELECT added_by, added_at FROM blocked_words WHERE guild_id = 1 AND word = 'zebra'"
    )
    assert (row["added_by"], row["added_at"]) == (7, 10.0)


async def test_blocking_a_word_twice_changes_nothing(db):
    assert await moderation.add_blocked_word(db, 1, "apple", by=7, now=10.0)
    assert not await moderation.add_blocked_word(db, 1, "apple", by=8, now=20.0)
    rows = await db.fetchall("SELECT added_by, added_at FROM blocked_words")
    assert [(r["added_by"], r["added_at"]) for r in rows] == [(7, 10.0)]


async def test_a_full_list_refuses_more_words(db):
    # 499 words already stored, as if blocked one by one.
    await db.execute(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 499)"
        " INSERT INTO blocked_words (guild_id, word, added_by, added_at)"
        " SELECT 1, printf('w%03d', i), 7, 1.0 FROM n"
    )
    assert await moderation.add_blocked_word(db, 1, "x500", by=7, now=2.0)
    assert not await moderation.add_blocked_word(db, 1, "x501", by=7, now=2.0)
    words = await moderation.blocked_words(db, 1)
    assert len(words) == moderation.MAX_BLOCKED_WORDS == 500
    assert "x501" not in words
    # The cap is per server.
    assert await moderation.add_blocked_word(db, 2, "x501", by=7, now=2.0)
    # Room again after a removal.
    assert await moderation.remove_blocked_word(db, 1, "w001")
    assert await moderation.add_blocked_word(db, 1, "x501", by=7, now=2.0)
    assert len(await moderation.blocked_words(db, 1)) == 500


async def test_removing_a_word_says_whether_it_was_blocked(db):
    await moderation.add_blocked_word(db, 1, "apple", by=7, now=1.0)
    await moderation.add_blocked_word(db, 2, "apple", by=7, now=1.0)
    assert await moderation.remove_blocked_word(db, 1, "apple")
    assert not await moderation.remove_blocked_word(db, 1, "apple")
    assert not await moderation.remove_blocked_word(db, 1, "pear")
    assert await moderation.blocked_words(db, 1) == []
    assert await moderation.blocked_words(db, 2) == ["apple"]


async def test_role_limits_are_set_replaced_and_cleared(db):
    assert await moderation.role_limits(db, 1) == {}
    await moderation.set_role_limit(db, 1, 100, 5)
    await moderation.set_role_limit(db, 1, 200, 0)
    await moderation.set_role_limit(db, 2, 100, 9)
    await moderation.set_role_limit(db, 1, 100, 12)  # a new value replaces the old one
    assert await moderation.role_limits(db, 1) == {100: 12, 200: 0}
    assert await moderation.role_limits(db, 2) == {100: 9}
    assert await moderation.clear_role_limit(db, 1, 100)
    assert not await moderation.clear_role_limit(db, 1, 100)
    assert await moderation.role_limits(db, 1) == {200: 0}
    assert await moderation.role_limits(db, 2) == {100: 9}


async def test_a_negative_role_limit_is_not_stored(db):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint"):
        await moderation.set_role_limit(db, 1, 100, -1)
    assert await moderation.role_limits(db, 1) == {}


async def test_audit_channel_is_off_until_set(db):
    assert await moderation.audit_channel(db, 1) == (None, None)
    await moderation.set_audit_channel(db, 1, 555)
    assert await moderation.audit_channel(db, 1) == (555, None)
    assert await moderation.audit_channel(db, 2) == (None, None)
    await moderation.set_audit_channel(db, 1, 556)
    assert await moderation.audit_channel(db, 1) == (556, None)
    await moderation.set_audit_channel(db, 1, None)
    assert await moderation.audit_channel(db, 1) == (None, None)


async def test_setting_the_audit_channel_keeps_the_servers_limits(db):
    await db.execute("INSERT INTO guild_settings (guild_id, user_daily) VALUES (1, 4)")
    await moderation.set_audit_channel(db, 1, 555)
    row = await db.fetchone("SELECT user_daily, audit_channel_id FROM guild_settings")
    assert (row["user_daily"], row["audit_channel_id"]) == (4, 555)


async def test_a_failed_audit_turns_auditing_off_and_keeps_the_reason(db):
    await moderation.set_audit_channel(db, 1, 555)
    await moderation.disable_audit(db, 1, "posting in <#555> failed")
    assert await moderation.audit_channel(db, 1) == (None, "posting in <#555> failed")
    # Told to a moderator once, then forgotten.
    await moderation.acknowledge_audit_failure(db, 1)
    assert await moderation.audit_channel(db, 1) == (None, None)


async def test_choosing_a_channel_again_clears_the_old_failure(db):
    await moderation.set_audit_channel(db, 1, 555)
    await moderation.disable_audit(db, 1, "gone")
    await moderation.set_audit_channel(db, 1, 777)
    assert await moderation.audit_channel(db, 1) == (777, None)


async def test_disabling_audit_of_a_server_without_settings_stores_nothing(db):
    await moderation.disable_audit(db, 1, "gone")
    assert await moderation.audit_channel(db, 1) == (None, None)
    assert await db.fetchall("SELECT * FROM guild_settings") == []
