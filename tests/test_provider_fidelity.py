"""Provider fidelity (issue 12): --think --no-stream where servers answer it, Zhipu through the openai SDK,
usage details on whole answers.

The real SDKs run against the loopback server, in-process through the real provider classes (fast), with
one real `chat ask` per feature for what only the program shows.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from chatcli.config import load_config
from chatcli.config.model import ProviderConfig
from chatcli.core.messages import ChatRequest, Event, Message, ReasoningDelta, Sources, TextDelta, UsageEvent
from chatcli.core.options import GenerationOptions
from chatcli.errors import ProviderError, UsageError
from chatcli.providers.chunks import usage_from
from chatcli.providers.openai_compat import OpenAIProvider
from chatcli.providers.registry import create_provider
from chatcli.providers.wire import WEB_SEARCH_TOOL, check_dashscope, is_dashscope, is_zhipu
from tests import fakeserver as fs
from tests.fake_dashscope import NativeReply, NativeService
from tests.fakeserver import completions
from tests.test_ask import one_line_error

SEARCH = [{"title": "清华大学升学率", "link": "https://news.example/thu", "media": "新闻网",
           "content": "...", "refer": "ref_1"}]
NOT_STREAMED = {"error": {"code": "invalid_parameter_error", "type": "invalid_request_error", "param": None,
                          "message": "parameter.enable_thinking must be set to false for non-streaming calls"}}
STREAM_ONLY = {"error": {"code": "invalid_parameter_error", "type": "invalid_request_error", "param": None,
                         "message": "This model only support stream mode, please enable the stream parameter "
                                    "to access the model. "}}


@pytest.fixture
def tables(chat, server):
    """Extra providers on the loopback server: Zhipu through the openai SDK, and native DashScope."""
    with chat.config.open("a") as f:
        f.write(f'\n[providers.glm-openai]\nkind = "openai"\nbase_url = "{server.url}/api/paas/v4/"\n'
                f'model = "glm-4.5"\napi_key_env = "ZHIPUAI_API_KEY"\n'
                f'\n[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    return chat


@pytest.fixture
def call(tables, monkeypatch):
    """call(provider, stream=..., **options) -> (events, notices): one model call through the real adapter."""
    for name in ("DASHSCOPE_API_KEY", "ZHIPUAI_API_KEY"):
        monkeypatch.setenv(name, tables.env[name])
    cfg = load_config(str(tables.config))

    def run(provider: str, *, stream: bool = True, **options: Any) -> tuple[list[Event], list[str]]:
        notices: list[str] = []
        generation = GenerationOptions(**options).validate(stream=stream)
        adapter = create_provider(cfg.provider(provider), notify=notices.append)
        adapter.check_options(generation)
        request = ChatRequest([Message("user", "hi")], cfg.provider(provider).model, stream=stream,
                              generation=generation)
        return list(adapter.stream(request)), notices
    return run


def text(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def reasoning(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def usage(events: list[Event]) -> tuple[int, int, int, int | None, int | None]:
    (u,) = [e.usage for e in events if isinstance(e, UsageEvent)]
    return u.prompt_tokens, u.completion_tokens, u.total_tokens, u.cached_tokens, u.reasoning_tokens


# --- --think --no-stream ---------------------------------------------------------------------------

def test_zhipu_thinks_without_streaming(call, server):
    server.queue(fs.zhipu_text(["答案"], reasoning=["想一想"], reasoning_tokens=3))
    events, _ = call("zhipu", stream=False, think=True)
    assert (reasoning(events), text(events)) == ("想一想", "答案")
    body = completions(server)[0].json
    assert body["thinking"] == {"type": "enabled"} and body["stream"] is False


def test_native_dashscope_thinks_without_streaming(call, server):
    native = NativeService(server)
    native.queue(NativeReply(["答案"], reasoning=["想一想"], reasoning_tokens=3))
    events, _ = call("dashscope", stream=False, think=True)
    assert (reasoning(events), text(events)) == ("想一想", "答案")
    (req,) = native.requests
    assert req.json["parameters"]["enable_thinking"] is True
    assert "x-dashscope-sse" not in req.headers


def test_the_dashscope_rule_holds_only_where_streaming_is_known_to_be_required():
    unstreamed = GenerationOptions(think=True).validate(stream=False)
    check_dashscope("dashscope", unstreamed)  # the native path: answered unstreamed
    check_dashscope("qwen", GenerationOptions(think=True).validate(stream=True), compatible=True)
    check_dashscope("qwen", GenerationOptions(think=False).validate(stream=False), compatible=True)
    with pytest.raises(UsageError, match="qwen: DashScope's compatible mode says thinking needs streaming"):
        check_dashscope("qwen", unstreamed, compatible=True)


def test_compatible_dashscope_refuses_it_before_sending(call, server):
    with pytest.raises(UsageError, match="drop --no-stream"):
        call("qwen", stream=False, think=True)
    assert server.requests == []


def test_program_compatible_dashscope_refuses_it_before_saving(tables, server):
    proc = tables.run("ask", "--think", "--no-stream", "hi")
    assert proc.returncode == 2
    one_line_error(proc, "qwen: DashScope's compatible mode says thinking needs streaming", "kind = \"dashscope\"")
    assert server.requests == []
    db = tables.home / ".local" / "share" / "chatcli" / "chat.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)


@pytest.mark.parametrize("body", [NOT_STREAMED, STREAM_ONLY], ids=["enable_thinking", "stream-mode"])
def test_a_server_refusing_it_gets_a_hint(call, server, body):
    server.queue(fs.error(400, body))
    with pytest.raises(ProviderError) as e:
        call("qwen", stream=False)  # thinking on by the model's default
    assert "this model thinks and answers only when streaming: drop --no-stream (or add --no-think)" in e.value.message
    assert "\n" not in e.value.message and int(e.value.exit_code) == 1


def test_other_400s_get_no_streaming_hint(call, server):
    server.queue(fs.dashscope_error("invalid_parameter_error"))
    with pytest.raises(ProviderError) as e:
        call("qwen", stream=False)
    assert "streaming" not in e.value.message


def test_program_zhipu_think_no_stream(tables, server):
    server.queue(fs.zhipu_text(["答案"], reasoning=["想一想"]))
    proc = tables.run("ask", "-p", "zhipu", "--think", "--no-stream", "--json", "hi")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["reasoning"], data["content"]) == ("想一想", "答案")
    assert completions(server)[0].json["thinking"] == {"type": "enabled"}


def test_program_native_dashscope_think_no_stream(tables, server):
    native = NativeService(server)
    native.queue(NativeReply(["答案"], reasoning=["想一想"]))
    proc = tables.run("ask", "-p", "dashscope", "--think", "--no-stream", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith("答案\n")
    assert native.requests[0].json["parameters"]["enable_thinking"] is True


def test_program_server_refusal_hint(tables, server):
    server.queue(fs.error(400, NOT_STREAMED))
    proc = tables.run("ask", "--no-stream", "hi")
    assert proc.returncode == 1
    one_line_error(proc, "qwen:", "enable_thinking must be set to false", "drop --no-stream (or add --no-think)")


# --- Zhipu through its OpenAI-compatible endpoint --------------------------------------------------

@pytest.mark.parametrize("url, zhipu, dashscope", [
    ("https://open.bigmodel.cn/api/paas/v4/", True, False),
    ("https://open.bigmodel.cn/api/paas/v4", True, False),
    ("https://api.z.ai/api/paas/v4", True, False),
    ("https://api.z.ai/api/coding/paas/v4", True, False),
    ("http://127.0.0.1:8080/api/paas/v4/", True, False),
    ("https://xyz.ai/v1", False, False),
    ("https://notbigmodel.cn/v1", False, False),
    ("https://api.openai.com/v1", False, False),
    ("http://localhost:11434/v1", False, False),
    ("https://dashscope.aliyuncs.com/compatible-mode/v1", False, True),
    ("http://127.0.0.1:8080/compatible-mode/v1", False, True),
    (None, False, False),
])
def test_which_server_a_base_url_is(url, zhipu, dashscope):
    assert (is_zhipu(url), is_dashscope(url)) == (zhipu, dashscope)


def glm(base_url: str = "https://open.bigmodel.cn/api/paas/v4/") -> OpenAIProvider:
    return OpenAIProvider(ProviderConfig("glm", "openai", base_url, "glm-4.5"), notify=lambda _m: None)


def test_request_to_zhipus_host_carries_its_fields():
    opts = GenerationOptions(think=False, search=True, temperature=0)
    tools = [{"type": "function", "function": {"name": "f", "parameters": {}}}]
    kwargs = glm().request_kwargs(ChatRequest([Message("user", "hi")], "glm-4.5", tools=tools, generation=opts))
    assert kwargs["extra_body"] == {"thinking": {"type": "disabled"}, "do_sample": False}
    assert kwargs["tools"] == [*tools, WEB_SEARCH_TOOL]
    assert "temperature" not in kwargs and "enable_thinking" not in kwargs["extra_body"]


def test_zhipu_rules_apply_on_the_openai_path():
    with pytest.raises(UsageError, match="glm: Zhipu .GLM. does not take presence_penalty"):
        glm().check_options(GenerationOptions(presence_penalty=1))
    glm().check_options(GenerationOptions(search=True))  # no "has no web search"


def test_glm_openai_think_search_streamed(call, server):
    server.queue(fs.zhipu_text(["清华", "很好"], reasoning=["查一下"], web_search=SEARCH))
    events, notices = call("glm-openai", think=True, search=True, temperature=1.5)
    assert (reasoning(events), text(events)) == ("查一下", "清华很好")
    (sources,) = [e for e in events if isinstance(e, Sources)]
    assert [s["title"] for s in sources.items] == ["清华大学升学率"]
    (req,) = completions(server)
    assert req.path == "/api/paas/v4/chat/completions"
    body = req.json
    assert body["thinking"] == {"type": "enabled"} and body["tools"] == [WEB_SEARCH_TOOL]
    assert body["temperature"] == 0.99 and "enable_thinking" not in body and "enable_search" not in body
    assert notices == ["glm-openai: Zhipu takes temperature in (0, 1); sent 0.99 instead of 1.5"]


def test_glm_openai_no_think_no_stream(call, server):
    server.queue(fs.zhipu_text(["好"], cached=2, reasoning_tokens=0))
    events, _ = call("glm-openai", stream=False, think=False)
    assert text(events) == "好"
    assert completions(server)[0].json["thinking"] == {"type": "disabled"}
    assert usage(events) == (10, 5, 15, 2, 0)


def test_program_glm_openai(tables, server):
    server.queue(fs.zhipu_text(["清华", "很好"], reasoning=["查一下"], web_search=SEARCH))
    proc = tables.run("ask", "-p", "glm-openai", "--think", "--search", "--no-tools", "--json", "清华升学率")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert (data["reasoning"], data["content"]) == ("查一下", "清华很好")
    assert [s["link"] for s in data["sources"]] == ["https://news.example/thu"]
    body = completions(server)[0].json
    assert body["thinking"] == {"type": "enabled"} and body["tools"] == [WEB_SEARCH_TOOL]
    assert "--think" not in proc.stderr  # no "not sent to this server" notice


# --- usage details ---------------------------------------------------------------------------------

@pytest.mark.parametrize("provider, reply", [
    ("zhipu", lambda: fs.zhipu_text(["ok"], usage=(30, 9), cached=4, reasoning_tokens=7)),
    ("glm-openai", lambda: fs.zhipu_text(["ok"], usage=(30, 9), cached=4, reasoning_tokens=7)),
    ("qwen", lambda: fs.dashscope_text(["ok"], usage=(30, 9), cached=4, reasoning_tokens=7)),
])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_usage_details_reach_the_events(call, server, provider, reply, stream):
    server.queue(reply())
    events, _ = call(provider, stream=stream, think=False)
    assert usage(events) == (30, 9, 39, 4, 7)


def test_usage_details_from_every_shape():
    from zhipuai.types.chat.chat_completion import CompletionUsage

    raw = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
           "prompt_tokens_details": {"cached_tokens": 1}, "completion_tokens_details": {"reasoning_tokens": 2}}
    for u in (raw, CompletionUsage.model_validate(raw)):
        got = usage_from(u)
        assert (got.prompt_tokens, got.total_tokens, got.cached_tokens, got.reasoning_tokens) == (3, 5, 1, 2)
    bare = usage_from(CompletionUsage.model_validate({"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}))
    assert (bare.cached_tokens, bare.reasoning_tokens) == (None, None)
    odd = usage_from({**raw, "prompt_tokens_details": {"cached_tokens": "many"}, "completion_tokens_details": None})
    assert (odd.cached_tokens, odd.reasoning_tokens) == (0, None)


def test_program_zhipu_usage_details_no_stream(tables, server):
    server.queue(fs.zhipu_text(["ok"], usage=(30, 9), cached=4, reasoning_tokens=7))
    proc = tables.run("ask", "-p", "zhipu", "--no-stream", "--json", "hi")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["usage"] == {"prompt_tokens": 30, "completion_tokens": 9, "total_tokens": 39,
                                                "cached_tokens": 4, "reasoning_tokens": 7}
