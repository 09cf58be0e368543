-- SCHEMA of assistant/radar.py
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
