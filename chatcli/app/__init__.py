"""The application layer: the chat session every front end uses, and the one-shot ask."""
