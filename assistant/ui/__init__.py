"""The shells: the Chainlit chat app and the typer CLI, thin layers over the engine."""
