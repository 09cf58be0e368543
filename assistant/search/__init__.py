"""Search: hybrid retrieval over the index (dense + BM25, fusion, coverage vote, filters, MMR)."""
