"""Provider-neutral core: messages and events, the conversation and its tool loop, the context budget,
generation options. No terminal I/O."""
