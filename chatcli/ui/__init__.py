"""Terminal output: the Terminal object, renderers (raw, streamed markdown), sanitising, dim lines."""
