"""The stores: the catalog (SQLite + FTS5), the vectors (Chroma) and the embedding model."""
