"""Built-in provider presets and the commented starter config file."""

from __future__ import annotations

from typing import Any

from chatcli.providers.catalog import suggested_models

PROVIDER_KINDS = ("openai", "zhipu", "dashscope")
DEFAULT_PROVIDER = "qwen"

_QWEN = {"kind": "openai", "api_key_env": "DASHSCOPE_API_KEY", "model": "qwen-plus", "models": suggested_models("qwen")}
PRESETS: dict[str, dict[str, Any]] = {
    "qwen": {**_QWEN, "base_url": "https://dashscope.aliyuncs.com/compatible-mode/v1"},
    "qwen-intl": {**_QWEN, "base_url": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"},
    "dashscope": {**_QWEN, "kind": "dashscope", "base_url": "https://dashscope.aliyuncs.com/api/v1"},
    "openai": {
        "kind": "openai", "base_url": "https://api.openai.com/v1", "api_key_env": "OPENAI_API_KEY",
        "model": "gpt-4o-mini", "models": suggested_models("openai"),
    },
    "ollama": {"kind": "openai", "base_url": "http://localhost:11434/v1", "api_key_env": "", "model": "llama3.2"},
    "zhipu": {
        "kind": "zhipu", "base_url": "https://open.bigmodel.cn/api/paas/v4", "api_key_env": "ZHIPUAI_API_KEY",
        "model": "glm-4-plus", "models": suggested_models("glm"),
    },
}

STARTER_CONFIG = """\
# chatcli configuration (TOML).
# `chat config show` prints the effective settings, `chat providers` the key status.

# Provider used when --provider is not given.
default_provider = "qwen"

# Built-in presets: @PRESETS@.
# A [providers.NAME] table named like a preset overrides only the fields it sets.
# Keys come from api_key_cmd (a shell command printing the key), api_key (literal,
# discouraged) or the environment variable named by api_key_env, in that order.

# [providers.qwen]                  # Alibaba DashScope, mainland China
# model = "qwen-max"
# api_key_env = "DASHSCOPE_API_KEY"
# extra_body = { enable_thinking = false }
# timeout = 120

# [providers.qwen-intl]             # DashScope international (Singapore)
# model = "qwen-plus"

# [providers.dashscope]             # DashScope's native protocol (no SDK), same key as qwen
# model = "qwen-max"

# [providers.openai]
# model = "gpt-4o"
# api_key_cmd = "pass show openai/api-key"

# [providers.ollama]                # local server, no key needed
# base_url = "http://localhost:11434/v1"
# model = "qwen2.5:7b"

# [providers.zhipu]                 # Zhipu GLM
# model = "glm-4-flash"
# api_key_env = "ZHIPUAI_API_KEY"

# A provider of your own needs kind ("openai", "zhipu" or "dashscope"), base_url and model:
# [providers.myvllm]
# kind = "openai"
# base_url = "http://localhost:8000/v1"
# model = "Qwen/Qwen2.5-7B-Instruct"
# models = ["Qwen/Qwen2.5-7B-Instruct"]
# api_key_env = "VLLM_API_KEY"      # leave out (or "") if no key is needed

# Roles: `chat -r NAME` or `/role NAME` (`chat roles` lists them; shell, translate and code are
# built in). A persona (bot_name, bot_info, user_name, user_info) goes to CharacterGLM as `meta`.
# [roles.reviewer]
# system = "Review the code for bugs; answer in short bullet points."
# model = "qwen-max"
# temperature = 0.2

# Conversations are saved as they happen (`chat sessions list`, `chat -c` to continue).
# [store]
# enabled = true                    # false (or --no-save) saves nothing
# path = "~/chat-history.db"        # default: chat.db in $XDG_DATA_HOME/chatcli

# How answers look in a terminal.
# [render]
# soft_breaks = "break"             # a single newline is a line break; "space": CommonMark's space

# What tokens cost (per million), for the stats line and /usage. Set key by key:
# chat config set prices.qwen-plus.input 0.8
# [prices]
# currency = "CNY"
# qwen-plus = { input = 0.8, output = 2.0 }
""".replace("@PRESETS@", ", ".join(PRESETS))
