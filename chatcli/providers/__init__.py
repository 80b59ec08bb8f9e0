"""Model backends.

base: the Provider interface. registry: `kind` -> adapter. catalog: what each model family takes.
capabilities: what each provider takes besides text. errmap: server errors -> ProviderError.
retry, pump: retries and the worker-thread stream reader. chunks: the OpenAI-shape chunk
assembler. wire: request-building helpers. sdk: the base of the SDK adapters. Adapters:
openai_compat (openai SDK), zhipu (zhipuai SDK), dashscope (native protocol over httpx).
"""

from chatcli.providers.registry import ADAPTERS, create_provider

__all__ = ["ADAPTERS", "create_provider"]
