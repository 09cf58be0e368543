"""The Chainlit chat app: `app.py` is the entry Chainlit runs; the other modules hold its handlers."""
