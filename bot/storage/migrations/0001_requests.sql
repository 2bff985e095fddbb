-- Every /imagine request is one row: the usage log and the job queue at once.
-- Times are UNIX seconds (UTC). Ids are Discord snowflakes.
CREATE TABLE requests (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id            INTEGER NOT NULL,
    channel_id          INTEGER NOT NULL,
    user_id             INTEGER NOT NULL,
    prompt              TEXT    NOT NULL,
    aspect_ratio        TEXT,
    status              TEXT    NOT NULL
        CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'refused', 'cancelled')),
    error_kind          TEXT,
    error_detail        TEXT,
    created_at          REAL    NOT NULL,
    started_at          REAL,
    finished_at         REAL,
    -- What is needed to answer the member after a restart.
    application_id      INTEGER,
    interaction_id      INTEGER,
    interaction_token   TEXT,
    attachment_limit    INTEGER,
    -- Where the result went.
    result_message_id   INTEGER,
    result_channel_id   INTEGER,
    result_format       TEXT,
    result_bytes        INTEGER,
    attempts            INTEGER NOT NULL DEFAULT 0
);

-- Admission checks count a member's and a server's rows in a time window;
-- with the status in the index they never touch the table itself.
CREATE INDEX requests_guild_user_time ON requests (guild_id, user_id, created_at, status);
CREATE INDEX requests_guild_time ON requests (guild_id, created_at, status);
-- A server's waiting jobs are counted on every request, and the queue is
-- rebuilt from the unfinished rows at start. SQLite uses a partial index
-- only when the query repeats its WHERE term exactly, hence one per status.
CREATE INDEX requests_queued ON requests (guild_id) WHERE status = 'queued';
CREATE INDEX requests_running ON requests (id) WHERE status = 'running';

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
