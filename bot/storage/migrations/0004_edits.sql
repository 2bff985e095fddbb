-- Image editing: a request is a generation or an edit. An edit keeps the
-- message its image came from (when there is one), the Discord URLs of its
-- images (JSON array: the image to edit, then up to two references) and,
-- once uploaded, the paths the 1min.ai Asset API returned (JSON array, same
-- order), so Re-roll and Remix of an edit work after a restart without the
-- member's original message.
ALTER TABLE requests ADD COLUMN kind TEXT NOT NULL DEFAULT 'generate'
    CHECK (kind IN ('generate', 'edit'));
ALTER TABLE requests ADD COLUMN source_channel_id INTEGER;
ALTER TABLE requests ADD COLUMN source_message_id INTEGER;
ALTER TABLE requests ADD COLUMN source_urls TEXT;
ALTER TABLE requests ADD COLUMN source_paths TEXT;
