"""Local tools the model may call: the registry, the built-ins (time, weather) and their listing."""
