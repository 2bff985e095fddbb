-- Limits a server's moderators set with /limits. NULL means "the operator's
-- default" (the DEFAULT_* variables), so changing a default reaches every
-- server that never chose its own value.
CREATE TABLE guild_settings (
    guild_id          INTEGER PRIMARY KEY,
    user_daily        INTEGER CHECK (user_daily >= 0),
    guild_daily       INTEGER CHECK (guild_daily >= 0),
    cooldown_seconds  INTEGER CHECK (cooldown_seconds >= 0),
    max_queue         INTEGER CHECK (max_queue >= 0),
    updated_at        REAL,
    updated_by        INTEGER
);

-- /limits reset forgets a member's use from this moment on, without
-- deleting the usage log.
CREATE TABLE quota_resets (
    guild_id  INTEGER NOT NULL,
    user_id   INTEGER NOT NULL,
    reset_at  REAL    NOT NULL,
    reset_by  INTEGER,
    PRIMARY KEY (guild_id, user_id)
);
