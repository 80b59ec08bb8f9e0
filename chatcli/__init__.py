"""chatcli: a terminal chat client for Qwen (DashScope), GLM (Zhipu) and OpenAI-compatible servers."""

__version__ = "0.1.0"
