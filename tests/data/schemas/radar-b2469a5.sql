-- SCHEMA of assistant/radar/delivery.py
CREATE TABLE IF NOT EXISTS radar_feed_tokens (
    topic_id INTEGER PRIMARY KEY REFERENCES radar_topics(id) ON DELETE CASCADE,
    token TEXT NOT NULL UNIQUE
);
CREATE TABLE IF NOT EXISTS radar_deliveries (
    topic_id INTEGER NOT NULL REFERENCES radar_topics(id) ON DELETE CASCADE,
    channel TEXT NOT NULL,           -- mailto:a@b,c@d | webhook:<sha256 of the URL, 16 hex>
    paper_id TEXT NOT NULL,
    sent_at REAL NOT NULL,
    PRIMARY KEY (topic_id, channel, paper_id)
);

-- SCHEMA of assistant/radar/library.py
CREATE TABLE IF NOT EXISTS radar_library (
    topic_id INTEGER NOT NULL REFERENCES radar_topics(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,       -- order in the library file
    title TEXT NOT NULL,
    paper_id TEXT,                   -- the indexed paper it is, if found
    matched_by TEXT,                 -- 'arXiv id' | 'title' | NULL (not in the index)
    vector BLOB,                     -- float32 embedding of title + abstract when not in the index
    PRIMARY KEY (topic_id, position)
);

-- SCHEMA of assistant/radar/service.py
CREATE TABLE IF NOT EXISTS radar_topics (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,   -- folded name: names are unique case- and accent-insensitively
    query TEXT NOT NULL,
    fields TEXT NOT NULL,            -- JSON list of categories/archives
    authors TEXT NOT NULL,           -- JSON list of followed authors
    created_at REAL NOT NULL,
    last_visit REAL,                 -- wall clock when the current window was opened
    window_number INTEGER NOT NULL DEFAULT 0,
    window_since REAL,               -- previous visit (NULL for the first window)
    window_after REAL,               -- window = ingested_at in (window_after, window_until]
    window_until REAL,
    window_first_day INTEGER,        -- first window: papers published on/after this day (YYYYMMDD)
    window_floor INTEGER,            -- later windows: papers published before this are backfill
    window_newest_day INTEGER        -- newest published day in the catalog when the window opened
);
CREATE TABLE IF NOT EXISTS radar_items (
    topic_id INTEGER NOT NULL REFERENCES radar_topics(id) ON DELETE CASCADE,
    window INTEGER NOT NULL,
    paper_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    score REAL NOT NULL,
    relevance REAL NOT NULL,
    dense_rank INTEGER,
    lexical_rank INTEGER,
    followed_author TEXT,            -- the followed author this paper is on the feed for, if any
    batch INTEGER,                   -- NULL until shown
    shown_at REAL,
    PRIMARY KEY (topic_id, window, paper_id)
);
CREATE INDEX IF NOT EXISTS radar_items_seen ON radar_items(topic_id, paper_id) WHERE batch IS NOT NULL;
