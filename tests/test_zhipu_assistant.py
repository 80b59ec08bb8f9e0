"""Zhipu assistants (智能体): the real zhipuai SDK and ZhipuProvider against the loopback `/assistant` service.

Text streams as TextDelta; the assistant's own tool steps show as one dim line each; the
conversation id of the first answer is kept for the next turns, in state(), and taken back by restore().
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chatcli.config import load_config
from chatcli.core.messages import ChatRequest, Event, Finish, Message, Notice, TextDelta, Usage, UsageEvent
from chatcli.core.options import GenerationOptions
from chatcli.errors import AuthError, ContentFilterError, NetworkError, ProviderError, QuotaError
from chatcli.providers.base import Provider
from chatcli.providers.registry import create_provider
from chatcli.providers.zhipu_assistant import step_line
from tests import fakeserver as fs
from tests.fake_assistant import AssistantReply, AssistantService, code, drawing, retrieval, web_browser

ASSISTANT_ID = "659e54b1b8006379b4b2abd6"


@pytest.fixture
def service(server) -> AssistantService:
    return AssistantService(server)


@pytest.fixture
def make(chat, monkeypatch):
    """make() -> (provider, notices): a zhipu provider with an assistant_id, as the config gives it."""
    monkeypatch.setenv("ZHIPUAI_API_KEY", chat.env["ZHIPUAI_API_KEY"])
    cfg = load_config(str(chat.config))
    pcfg = dataclasses.replace(cfg.provider("zhipu"), assistant_id=ASSISTANT_ID)

    def build() -> tuple[Provider, list[str]]:
        notices: list[str] = []
        return create_provider(pcfg, notices.append), notices
    return build


def run(provider: Provider, *messages: str, **request: Any) -> tuple[list[Event], ProviderError | None]:
    """One call; messages alternate user, assistant, user...; the events and the error, if any."""
    history = [Message("user" if i % 2 == 0 else "assistant", m) for i, m in enumerate(messages)]
    events: list[Event] = []
    try:
        events.extend(provider.stream(ChatRequest(history, "glm-4-flash", **request)))
    except ProviderError as err:
        return events, err
    return events, None


def text_of(events: list[Event]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def test_text_and_tool_steps_stream_as_events(service, make):
    service.queue(AssistantReply([web_browser("智谱 cogvideox", "A", "B", "C"), "CogVideoX ", "发布于 2024 年。",
                                  drawing("一只猫", "https://img.example/cat.png"),
                                  code("print(1 + 1)\nprint('x')", "2\nx\n"), " 完成"]))
    provider, _ = make()
    events, err = run(provider, "帮我搜索下智谱的cogvideox发布时间")
    assert err is None
    assert events == [
        Notice('assistant web_browser: "智谱 cogvideox" → 3 results'),
        TextDelta("CogVideoX "), TextDelta("发布于 2024 年。"),
        Notice('assistant drawing_tool: "一只猫" → https://img.example/cat.png'),
        Notice("assistant code_interpreter → 2"),
        TextDelta(" 完成"),
        UsageEvent(Usage(12, 7, 19)),
        Finish("stop"),
    ]


def test_only_the_new_user_message_is_sent(service, server, chat, make):
    service.queue(AssistantReply(["ok"]))
    provider, _ = make()
    tool = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    run(provider, "帮我搜索下智谱的cogvideox发布时间", tools=[tool])
    req = service.requests[0]
    assert req.method == "POST" and req.path == "/api/paas/v4/assistant"
    assert req.headers["authorization"] == f"Bearer {chat.env['ZHIPUAI_API_KEY']}"
    body = service.sent()
    assert body["assistant_id"] == ASSISTANT_ID and body["stream"] is True
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "帮我搜索下智谱的cogvideox发布时间"}]}]
    assert body.get("conversation_id") is None  # a new conversation
    assert "tools" not in body  # our local tools are not offered to an assistant
    assert fs.completions(server) == []  # never chat.completions


def test_conversation_id_is_kept_across_turns(service, make):
    service.queue(AssistantReply(["第一"]), AssistantReply(["第二"]))
    provider, notices = make()
    assert provider.state() == {}
    assert run(provider, "一")[1] is None
    assert provider.state() == {"conversation_id": "conv-1"}
    events, err = run(provider, "一", "第一", "二")
    assert err is None and text_of(events) == "第二"
    body = service.sent()
    assert body["conversation_id"] == "conv-1"
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "二"}]}]
    assert provider.state() == {"conversation_id": "conv-1"} and notices == []


def test_restore_continues_the_saved_conversation(service, make):
    service.queue(AssistantReply(["继续"]))
    provider, notices = make()
    provider.restore({"conversation_id": "conv-saved"})
    events, err = run(provider, "一", "第一", "二")
    assert err is None and text_of(events) == "继续"
    assert service.sent()["conversation_id"] == "conv-saved"
    assert provider.state() == {"conversation_id": "conv-saved"} and notices == []
    provider.restore({})
    assert provider.state() == {}


def test_history_without_a_conversation_says_it_starts_anew(service, make):
    service.queue(AssistantReply(["新的"]), AssistantReply(["又一个"]))
    provider, notices = make()
    run(provider, "一", "第一", "二")
    assert service.sent().get("conversation_id") is None
    assert notices == ["zhipu: the assistant starts a new conversation: earlier turns are not sent to it"]


@pytest.mark.parametrize("how, needle", [("end_after", "cut off"), ("cut_after", "connection lost")])
def test_a_stream_without_completion_is_an_error(service, make, how, needle):
    service.queue(AssistantReply(["first ", "second ", "third"], **{how: 2}))
    provider, _ = make()
    events, err = run(provider, "hi")
    assert text_of(events) == "first second "
    assert isinstance(err, NetworkError) and not err.retryable
    assert int(err.exit_code) == 5 and needle in err.message and "\n" not in err.message
    assert provider.state() == {"conversation_id": "conv-1"}  # the server has begun the conversation
    assert len(service.requests) == 1


def test_generation_options_are_not_sent(service, make):
    service.queue(AssistantReply(["ok"]))
    provider, notices = make()
    run(provider, "hi", generation=GenerationOptions(temperature=0.5, search=True))
    body = service.sent()
    assert "temperature" not in body and "tools" not in body
    assert notices == ["zhipu: an assistant takes no generation options; not sent: temperature, search"]


def test_a_json_error_body_answering_the_stream(service, make):
    service.queue(fs.json_reply({"error": {"code": "1301", "message": "系统检测到输入或生成内容可能包含不安全或敏感内容"}}))
    provider, _ = make()
    events, err = run(provider, "hi")
    assert events == [] and isinstance(err, ContentFilterError) and "content filter" in err.message


def test_a_failed_status_is_an_error(service, make):
    service.queue(AssistantReply(["half "], failed={"code": "500", "message": "智能体执行异常"}))
    provider, _ = make()
    events, err = run(provider, "hi")
    assert text_of(events) == "half "
    assert err is not None and "error during the answer" in err.message and "智能体执行异常" in err.message


def test_auth_error(service, make):
    service.queue(fs.zhipu_error("1002", request_id="req-401"))
    provider, _ = make()
    events, err = run(provider, "hi")
    assert events == [] and isinstance(err, AuthError) and int(err.exit_code) == 3
    assert err.message.startswith("zhipu: authentication failed (HTTP 401, 1002)")
    assert "check ZHIPUAI_API_KEY" in err.message and "request_id req-401" in err.message
    assert "\n" not in err.message and len(service.requests) == 1


def test_arrears_429_is_not_retried(service, make):
    service.queue(fs.zhipu_error("1113"))
    provider, _ = make()
    _, err = run(provider, "hi")
    assert isinstance(err, QuotaError) and int(err.exit_code) == 4
    assert "account in arrears" in err.message and "HTTP 429, 1113" in err.message
    assert len(service.requests) == 1


def test_rate_limit_429_is_retried(service, make):
    service.queue(fs.zhipu_error("1302", headers={"Retry-After": "0"}), AssistantReply(["ok"]))
    provider, notices = make()
    events, err = run(provider, "hi")
    assert err is None and text_of(events) == "ok" and len(service.requests) == 2
    assert len(notices) == 1 and notices[0].startswith("zhipu: retrying in 0.0 s (1/2): rate limited (HTTP 429, 1302)")


def test_rate_limit_429_gives_up_with_exit_4(service, make):
    service.queue(*[fs.zhipu_error("1305", headers={"Retry-After": "0"}) for _ in range(3)])
    provider, _ = make()
    _, err = run(provider, "hi")
    assert err is not None and int(err.exit_code) == 4 and "rate limited (HTTP 429, 1305)" in err.message


@pytest.mark.parametrize("kind, body, line", [
    ("retrieval", retrieval("a.pdf", "b.pdf", "a.pdf")["retrieval"], "assistant retrieval → 3 passages (a.pdf, b.pdf)"),
    ("function", {"name": "get_weather", "arguments": {"city": "北京"}, "outputs": [{"content": "晴\n25°C"}]},
     'assistant function: get_weather({"city": "北京"}) → 晴'),
    ("web_browser", {"input": "q", "outputs": [{"title": "", "link": "", "content": "", "error_msg": "timeout"}]},
     'assistant web_browser: "q" → timeout'),
    ("web_browser", {"input": "q", "outputs": []}, 'assistant web_browser: "q" → no result'),
    ("code_interpreter", {"input": "1/0", "outputs": [{"type": "logs", "logs": "", "error_msg": "ZeroDivisionError"}]},
     "assistant code_interpreter → error: ZeroDivisionError"),
    ("drawing_tool", {"input": "x" * 300, "outputs": [{"image": "https://i/1.png"}]},
     'assistant drawing_tool: "' + "x" * 99 + '…" → https://i/1.png'),
])
def test_step_lines(kind, body, line):
    assert step_line(kind, body) == line


def test_chat_ask_shows_steps_as_dim_lines(chat, service):
    text = chat.config.read_text(encoding="utf-8")
    chat.config.write_text(text.replace("[providers.zhipu]\n", f'[providers.zhipu]\nassistant_id = "{ASSISTANT_ID}"\n'),
                           encoding="utf-8")
    service.queue(AssistantReply([web_browser("cogvideox", "a", "b"), "Answer ", "text."]), fs.zhipu_error("1002"))
    proc = chat.run("ask", "-p", "zhipu", "hi")
    assert proc.returncode == 0 and proc.stdout == "Answer text.\n"
    assert proc.stderr == 'chat: assistant web_browser: "cogvideox" → 2 results\n'
    proc = chat.run("ask", "-p", "zhipu", "hi")
    assert proc.returncode == 3 and proc.stdout == ""
    assert proc.stderr.startswith("chat: zhipu: authentication failed (HTTP 401, 1002)") and proc.stderr.count("\n") == 1


def test_an_error_inside_the_stream(service, make):
    first = AssistantReply(["half "]).chunks()[0]
    filtered = b'data: {"error": {"code": "1301", "message": "\xe6\x95\x8f\xe6\x84\x9f\xe5\x86\x85\xe5\xae\xb9"}}\n\n'
    service.queue(fs.raw(200, first + filtered, {"Content-Type": "text/event-stream"}))
    provider, _ = make()
    events, err = run(provider, "hi")
    assert text_of(events) == "half " and isinstance(err, ContentFilterError) and "1301" in err.message
