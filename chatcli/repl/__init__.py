"""The interactive session: the prompt loop and key bindings, the slash command registry, completion."""
