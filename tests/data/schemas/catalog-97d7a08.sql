-- SCHEMA of ingest/catalog.py
CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY,
    version INTEGER,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL,
    title_original TEXT NOT NULL,
    abstract_original TEXT NOT NULL,
    authors TEXT NOT NULL,            -- JSON list
    authors_folded TEXT NOT NULL,     -- lower-case, accents stripped, one name per line (author filter)
    categories TEXT NOT NULL,         -- JSON list, primary first
    primary_category TEXT NOT NULL,
    published INTEGER,                -- YYYYMMDD
    updated INTEGER,                  -- YYYYMMDD
    comment TEXT,
    doi TEXT,
    journal_ref TEXT,
    record_hash TEXT NOT NULL,        -- everything we store: detects metadata-only changes
    content_hash TEXT NOT NULL,       -- the embedded text
    embedded_hash TEXT,               -- what the vector store holds; NULL or different = pending
    ingested_at REAL NOT NULL,        -- first time this paper entered the catalog (unix seconds)
    changed_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS papers_published ON papers(published);
CREATE INDEX IF NOT EXISTS papers_ingested ON papers(ingested_at);
CREATE TABLE IF NOT EXISTS paper_categories (
    id TEXT NOT NULL,
    category TEXT NOT NULL,
    archive TEXT NOT NULL,
    PRIMARY KEY (id, category)
);
CREATE INDEX IF NOT EXISTS paper_categories_category ON paper_categories(category);
CREATE INDEX IF NOT EXISTS paper_categories_archive ON paper_categories(archive);
CREATE VIRTUAL TABLE IF NOT EXISTS papers_fts USING fts5(
    id UNINDEXED, title, abstract, authors, comment,
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS cursors (
    key TEXT PRIMARY KEY,
    position INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
