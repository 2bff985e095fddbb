-- Blocked words per server, stored normalised (see bot/wordfilter.py).
CREATE TABLE blocked_words (
    guild_id  INTEGER NOT NULL,
    word      TEXT    NOT NULL,
    added_by  INTEGER,
    added_at  REAL    NOT NULL,
    PRIMARY KEY (guild_id, word)
);

-- A member's daily limit is the highest of the server's and their roles'.
CREATE TABLE role_limits (
    guild_id    INTEGER NOT NULL,
    role_id     INTEGER NOT NULL,
    user_daily  INTEGER NOT NULL CHECK (user_daily >= 0),
    PRIMARY KEY (guild_id, role_id)
);

-- Where generations and blocked attempts are reported; when posting there
-- fails, auditing turns itself off and the reason is kept to tell a moderator.
ALTER TABLE guild_settings ADD COLUMN audit_channel_id INTEGER;
ALTER TABLE guild_settings ADD COLUMN audit_disabled_reason TEXT;

-- How long the API call itself took, for /status.
ALTER TABLE requests ADD COLUMN api_seconds REAL;
CREATE INDEX requests_finished ON requests (finished_at) WHERE finished_at IS NOT NULL;
