"""The daily radar: saved topics, followed authors, new-since-last-visit windows and batches."""
