"""ChatSession and the tool loop, in-process: a FakeProvider with queued replies, real tools, a real store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from chatcli.app.session import ChatSession, open_session
from chatcli.config import Config, load_config
from chatcli.core.messages import Event, Message, Notice, TextDelta, ToolCall, ToolCallEvent, ToolResult, Usage
from chatcli.core.options import GenerationOptions
from chatcli.errors import AuthError, ConfigError, NetworkError, RateLimitError, ServerError, UsageError
from chatcli.providers.retry import MAX_ATTEMPTS
from chatcli.store.store import Store
from tests.fakeprovider import FakeProvider, fake_for, text_reply, tool_reply

SHANGHAI = '{"timezone": "Asia/Shanghai"}'


def tokens(prompt: int, completion: int) -> Usage:
    return Usage(prompt, completion, prompt + completion)


def say(session: ChatSession, text: str) -> list[Event]:
    """One whole turn: its events."""
    return list(session.send(text))


def said(messages: list[Message]) -> list[tuple[str, object]]:
    return [(m.role, m.content) for m in messages]


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[str], Config]:
    """A config file in tmp_path with TEXT, saving to tmp_path/chat.db."""
    def write(text: str = "") -> Config:
        path = tmp_path / "config.toml"
        path.write_text(f'{text}\n[store]\npath = "chat.db"\n', encoding="utf-8")
        return load_config(str(path))

    return write


@pytest.fixture
def cfg(write_config) -> Config:
    return write_config()


@pytest.fixture
def fakes(cfg: Config) -> Iterator[dict[str, FakeProvider]]:
    made = {name: fake_for(cfg, name) for name in ("qwen", "zhipu")}
    yield made
    for fake in made.values():
        assert not fake.pending, f"{fake.name}: {fake.pending} queued replies were never asked for"


@pytest.fixture
def qwen(fakes) -> FakeProvider:
    return fakes["qwen"]


@pytest.fixture
def zhipu(fakes) -> FakeProvider:
    return fakes["zhipu"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "chat.db"  # where write_config's [store] points


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    warnings: list[str] = []
    with Store.open(db, warnings.append) as s:
        yield s
    assert not warnings


@pytest.fixture
def make_session(cfg, fakes) -> Iterator[Callable[..., ChatSession]]:
    """ChatSession(config or cfg, **kw) with the fakes as its providers."""
    sessions: list[ChatSession] = []

    def make(config: Config | None = None, **kw) -> ChatSession:
        sessions.append(ChatSession(config or cfg, providers=fakes, **kw))
        return sessions[-1]

    yield make
    for s in sessions:
        s.close()


@pytest.fixture
def session(make_session) -> ChatSession:
    return make_session()


# --- turns, usage, switching --------------------------------------------------------------


def test_a_turn_appends_both_messages_and_the_next_request_carries_them(session, qwen):
    qwen.enqueue(["Hel", "lo!"], "Fine.")
    events = say(session, "hi")
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo!"]
    say(session, "how are you?")
    assert said(session.conversation.messages) == [
        ("user", "hi"), ("assistant", "Hello!"), ("user", "how are you?"), ("assistant", "Fine.")]
    first, second = qwen.requests
    assert said(first.messages) == [("user", "hi")]
    assert said(second.messages) == said(session.conversation.messages[:3])
    assert second.model == "qwen-plus" and second.stream is True


def test_usage_requests_and_cost_add_up_across_turns(make_session, write_config, qwen):
    cfg = write_config('[prices."qwen-plus"]\ninput = 0.8\noutput = 2.0\n')
    session = make_session(cfg)
    qwen.enqueue(text_reply("one", usage=tokens(1000, 500)))
    say(session, "first")
    assert session.turn_cost() == pytest.approx(0.0018)
    qwen.enqueue(tool_reply(("call_1", "get_current_time", SHANGHAI), usage=tokens(2000, 100)),
                 text_reply("noon", usage=tokens(2500, 300)))
    say(session, "time?")
    assert session.last.usage == tokens(4500, 400)  # both rounds of the turn
    assert session.requests == 3
    assert session.totals == tokens(5500, 900)
    assert session.cost == pytest.approx(0.0018 + 0.0044)
    session.switch_model("qwen-max")  # no price: counted, not costed
    qwen.enqueue(text_reply("ok", usage=tokens(10, 10)))
    say(session, "again")
    assert (session.requests, session.totals.total_tokens) == (4, 6420)
    assert session.cost == pytest.approx(0.0062)


def test_requests_are_counted_when_no_usage_is_reported(session, qwen):
    qwen.enqueue("no usage here")
    say(session, "hi")
    assert session.requests == 1


def test_switching_provider_and_model_carries_the_conversation(session, qwen, zhipu):
    qwen.enqueue("from qwen")
    say(session, "one")
    session.switch_provider("zhipu")
    assert (session.provider_name, session.model) == ("zhipu", "glm-4-plus")
    zhipu.enqueue("from glm")
    say(session, "two")
    session.switch_model("glm-4-flash")
    zhipu.enqueue("from flash")
    say(session, "three")
    assert len(qwen.requests) == 1
    assert [r.model for r in zhipu.requests] == ["glm-4-plus", "glm-4-flash"]
    assert said(zhipu.requests[-1].messages) == [
        ("user", "one"), ("assistant", "from qwen"), ("user", "two"), ("assistant", "from glm"), ("user", "three")]


def test_switching_to_an_unknown_provider_changes_nothing(session):
    with pytest.raises(ConfigError, match="unknown provider 'nope'"):
        session.switch_provider("nope")
    assert (session.provider_name, session.model) == ("qwen", "qwen-plus")


# --- the tool loop ---------------------------------------------------------------------------


def tool_messages(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.role == "tool"]


def payload(message: Message) -> dict:
    """A tool message's JSON result."""
    return json.loads(str(message.content))


def test_a_tool_call_runs_a_local_tool_and_its_result_goes_back(session, qwen):
    qwen.enqueue([("call_1", "get_current_time", SHANGHAI)], "现在是北京时间中午。")
    events = say(session, "现在几点？")
    (result,) = [e for e in events if isinstance(e, ToolResult)]
    assert result.ok and result.call.id == "call_1"
    first, second = qwen.requests
    assert [t["function"]["name"] for t in first.tools] == ["get_current_time", "get_current_weather"]
    assert second.tools == first.tools  # offered on every round
    call_message, tool = second.messages[-2:]
    assert call_message.role == "assistant" and [c.id for c in call_message.tool_calls] == ["call_1"]
    assert (tool.role, tool.tool_call_id, tool.name) == ("tool", "call_1", "get_current_time")
    answer = payload(tool)
    assert (answer["timezone"], answer["utc_offset"]) == ("Asia/Shanghai", "+08:00")
    assert session.conversation.messages[-1] == Message("assistant", "现在是北京时间中午。")


def test_unknown_tools_and_bad_arguments_go_back_to_the_model_as_errors(session, qwen):
    qwen.enqueue([("c1", "no_such_tool", "{}"), ("c2", "get_current_time", "{not json")], "Sorry.")
    events = say(session, "time?")
    assert [r.ok for r in events if isinstance(r, ToolResult)] == [False, False]
    c1, c2 = tool_messages(qwen.requests[1].messages)  # in the order the model made the calls
    assert c1.tool_call_id == "c1" and "unknown tool 'no_such_tool'" in payload(c1)["error"]
    assert c2.tool_call_id == "c2" and "not valid JSON" in payload(c2)["error"]
    assert session.conversation.messages[-1].content == "Sorry."


def test_max_rounds_stops_the_loop_and_every_call_still_gets_a_result(make_session, write_config, qwen):
    session = make_session(write_config("[tools]\nmax_rounds = 2\n"))
    qwen.enqueue(*[[(f"c{i}", "get_current_time", SHANGHAI)] for i in (1, 2, 3)])
    events = say(session, "loop forever")
    assert len(qwen.requests) == 3 and session.last.rounds == 2
    assert any(isinstance(e, Notice) and "tools.max_rounds" in e.text for e in events)
    results = tool_messages(session.conversation.messages)
    assert [m.tool_call_id for m in results] == ["c1", "c2", "c3"]
    assert "not run" in payload(results[-1])["error"]
    assert all(r.tools == qwen.requests[0].tools for r in qwen.requests)


@pytest.mark.parametrize(("tools", "model"), [(False, None), (True, "qwen-vl-plus")], ids=["off", "vision"])
def test_no_tools_are_offered(make_session, qwen, tools, model):
    session = make_session(tools=tools, model=model)
    qwen.enqueue("plain")
    say(session, "hi")
    assert session.tools() is None and qwen.requests[0].tools is None


# --- generation options ---------------------------------------------------------------------


def test_flags_are_laid_over_the_provider_config_defaults(make_session, write_config, qwen):
    cfg = write_config("[providers.qwen]\ntemperature = 0.3\ntop_p = 0.8\nmax_tokens = 512\n")
    session = make_session(cfg, flags=GenerationOptions(temperature=1.1, seed=7), stream=False)
    qwen.enqueue("ok")
    say(session, "hi")
    (request,) = qwen.requests
    g = request.generation
    assert (g.temperature, g.top_p, g.max_tokens, g.seed) == (1.1, 0.8, 512, 7)
    assert request.stream is False


@pytest.mark.parametrize(("flags", "stream", "message"), [
    (GenerationOptions(temperature=2.5), True, "--temperature"),
    (GenerationOptions(top_p=0), True, "--top-p"),
    (GenerationOptions(max_tokens=0), True, "--max-tokens"),
    (GenerationOptions(think=True, json_object=True), True, "--json-object cannot be used with thinking on"),
])
def test_refused_options_raise_before_anything_is_sent_or_saved(make_session, store, qwen, flags, stream, message):
    session = make_session(flags=flags, stream=stream, store=store)
    with pytest.raises(UsageError, match=message):
        session.send("hi")
    assert qwen.requests == [] and session.conversation.messages == []
    assert store.last_id() is None


# --- retry, undo, clear, system ------------------------------------------------------------


def test_retry_resends_the_last_message_without_the_old_answer(make_session, store, qwen):
    session = make_session(store=store)
    qwen.enqueue([("c1", "get_current_time", SHANGHAI)], "first answer", "second answer")
    say(session, "time?")
    list(session.retry())
    assert said(qwen.requests[-1].messages) == [("user", "time?")]
    expected = [("user", "time?"), ("assistant", "second answer")]
    assert said(session.conversation.messages) == expected
    assert said(store.messages(session.conversation_id)) == expected


def test_retry_with_refused_options_keeps_the_turn(session, qwen):
    with pytest.raises(UsageError, match="nothing to retry"):
        session.retry()
    qwen.enqueue("kept")
    say(session, "q")
    session.flags = GenerationOptions(temperature=5)
    with pytest.raises(UsageError, match="--temperature"):
        session.retry()
    assert said(session.conversation.messages) == [("user", "q"), ("assistant", "kept")]


def test_undo_drops_the_last_turn_here_and_in_the_store(make_session, store, qwen):
    session = make_session(store=store)
    qwen.enqueue("a1", "a2")
    say(session, "first")
    say(session, "second")
    assert session.undo() == "second"
    assert said(session.conversation.messages) == [("user", "first"), ("assistant", "a1")]
    assert said(store.messages(session.conversation_id)) == [("user", "first"), ("assistant", "a1")]
    assert session.undo() == "first" and session.undo() is None


def test_clear_starts_a_new_conversation_with_the_system_prompt(make_session, store, qwen):
    session = make_session(system="Be terse.", store=store)
    qwen.enqueue("a1", "a2")
    say(session, "old")
    old = session.conversation_id
    session.clear()
    assert said(session.conversation.messages) == [("system", "Be terse.")]
    say(session, "new")
    assert said(qwen.requests[-1].messages) == [("system", "Be terse."), ("user", "new")]
    assert session.conversation_id != old and len(store.messages(old)) == 2
    assert store.info(session.conversation_id).system == "Be terse."


def test_setting_the_system_prompt_changes_the_next_request_and_the_store(make_session, store, qwen):
    session = make_session(store=store)
    qwen.enqueue("a1", "a2", "a3")
    say(session, "one")
    session.system = "Answer in French."
    say(session, "two")
    assert qwen.requests[1].messages[0] == Message("system", "Answer in French.")
    assert store.info(session.conversation_id).system == "Answer in French."
    session.system = None
    say(session, "three")
    assert [m.role for m in qwen.requests[2].messages][:1] == ["user"]
    assert store.info(session.conversation_id).system is None


# --- failures -------------------------------------------------------------------------------


def test_a_provider_error_mid_turn_keeps_the_partial_answer_and_raises(session, qwen):
    cut = NetworkError("qwen: the stream was cut", provider="qwen")
    qwen.enqueue([TextDelta("部分"), TextDelta("回答"), cut])
    with pytest.raises(NetworkError):
        say(session, "tell me")
    assert session.conversation.messages[-1] == Message("assistant", "部分回答", interrupted=True)
    assert session.last.error is cut and len(qwen.requests) == 1  # mid-answer: not retried


def test_calls_cut_off_mid_stream_are_not_kept_without_results(session, qwen):
    qwen.enqueue([TextDelta("let me check"), ToolCallEvent(ToolCall("c1", "get_current_time", SHANGHAI)),
                  NetworkError("qwen: the stream was cut")])
    with pytest.raises(NetworkError):
        say(session, "time?")
    assert session.conversation.messages[-1] == Message("assistant", "let me check", interrupted=True)


def test_keyboard_interrupt_mid_stream_keeps_what_arrived(make_session, store, qwen):
    session = make_session(store=store)
    qwen.enqueue([TextDelta("half"), KeyboardInterrupt()])
    with pytest.raises(KeyboardInterrupt):
        say(session, "long story")
    assert session.last.interrupted and session.last.content == "half"
    (user, answer) = store.messages(session.conversation_id)
    assert answer == Message("assistant", "half", interrupted=True)


def test_retryable_errors_are_retried_before_the_answer(session, qwen):
    qwen.enqueue(RateLimitError("qwen: throttled", retry_after=0), ServerError("qwen: 502"), "at last")
    say(session, "hi")
    assert len(qwen.requests) == 3 and all(r == qwen.requests[0] for r in qwen.requests)
    assert len(qwen.notices) == 2 and "retrying in 0.0 s" in qwen.notices[0]
    assert session.conversation.messages[-1].content == "at last"


def test_retrying_gives_up_after_max_attempts(session, qwen):
    qwen.enqueue(*[ServerError(f"qwen: 503 #{i}") for i in range(MAX_ATTEMPTS)])
    with pytest.raises(ServerError, match=f"#{MAX_ATTEMPTS - 1}"):
        say(session, "hi")
    assert len(qwen.requests) == MAX_ATTEMPTS


def test_an_auth_error_is_not_retried_and_leaves_no_answer(session, qwen):
    qwen.enqueue(AuthError("qwen: invalid API key", provider="qwen", status=401))
    with pytest.raises(AuthError):
        say(session, "hi")
    assert len(qwen.requests) == 1 and not qwen.notices
    assert said(session.conversation.messages) == [("user", "hi")]


@pytest.mark.parametrize(("reason", "failed"), [("length", False), ("sensitive", True)])
def test_outcome_of_a_finish_reason(session, qwen, reason, failed):
    qwen.enqueue(text_reply("an answ", finish=reason))
    say(session, "q")
    outcome = session.outcome()
    assert outcome is not None and outcome.failed is failed and f"finish_reason: {reason}" in outcome.message


def test_a_normal_answer_has_no_outcome(session, qwen):
    qwen.enqueue("done")
    say(session, "q")
    assert session.last.finish_reason == "stop" and session.outcome() is None


# --- saving and resuming ----------------------------------------------------------------------


def test_every_message_is_saved_as_it_is_appended(make_session, store, qwen):
    session = make_session(store=store)
    qwen.enqueue(tool_reply(("c1", "get_current_time", SHANGHAI), usage=tokens(10, 5)),
                 text_reply("noon", usage=tokens(30, 2)))
    events = session.send("time?")
    assert isinstance(next(events), ToolCallEvent)
    assert said(store.messages(session.conversation_id)) == [("user", "time?")]  # before the answer is done
    list(events)
    records = store.records(session.conversation_id)
    assert [r.message for r in records] == session.conversation.messages
    assert [(r.provider, r.model) for r in records] == [(None, None)] + [("qwen", "qwen-plus")] * 3
    assert [r.usage for r in records] == [None, tokens(10, 5), None, tokens(30, 2)]


def test_resume_continues_the_last_conversation_with_its_provider_and_model(make_session, store, db, zhipu):
    first = make_session(store=store)
    first.switch_provider("zhipu")
    first.switch_model("glm-4-flash")
    zhipu.enqueue("你好！", "再见！")
    say(first, "你好")
    later = make_session(store=Store.open(db, pytest.fail))
    info = later.resume(None)
    assert info.id == later.conversation_id == first.conversation_id
    assert (later.provider_name, later.model) == ("zhipu", "glm-4-flash")
    say(later, "再见")
    assert said(zhipu.requests[-1].messages) == [("user", "你好"), ("assistant", "你好！"), ("user", "再见")]
    assert zhipu.requests[-1].model == "glm-4-flash"
    assert len(store.messages(info.id)) == 4


def test_resume_of_an_unknown_id_raises(make_session, store, qwen):
    session = make_session(store=store)
    with pytest.raises(UsageError, match="no saved conversation"):
        session.resume(None)
    qwen.enqueue("a")
    say(session, "q")
    with pytest.raises(UsageError, match="no conversation 'zzzz'"):
        session.resume("zzzz")
    assert said(session.conversation.messages) == [("user", "q"), ("assistant", "a")]


def test_open_session_resumes_and_flags_win(cfg, fakes, qwen, zhipu):
    first, info = open_session(cfg, provider="zhipu", model="glm-4-flash", providers=fakes)
    zhipu.enqueue("hi")
    say(first, "hello")
    first.close()
    assert info is None
    again, info = open_session(cfg, resume="", providers=fakes)
    assert info is not None and info.id == first.conversation_id
    assert (again.provider_name, again.model) == ("zhipu", "glm-4-flash")
    again.close()
    flagged, _ = open_session(cfg, resume=first.conversation_id[:4], provider="qwen", model="qwen-max",
                              system="Be brief.", flags=GenerationOptions(temperature=0.5), providers=fakes)
    qwen.enqueue("ok")
    say(flagged, "more")
    flagged.close()
    (request,) = qwen.requests
    assert (request.model, request.generation.temperature) == ("qwen-max", 0.5)
    assert said(request.messages) == [("system", "Be brief."), ("user", "hello"), ("assistant", "hi"),
                                      ("user", "more")]


# --- the context budget ------------------------------------------------------------------------


def test_a_small_budget_leaves_the_oldest_turns_out(make_session, write_config, qwen):
    session = make_session(write_config("[context]\nmax_tokens = 200\n"))  # each message here is ~54 tokens
    qwen.enqueue("y" * 200, "y" * 200, "y" * 200)
    assert not any(isinstance(e, Notice) for e in say(session, "a" * 200) + say(session, "b" * 200))
    events = say(session, "c" * 200)
    assert [e.text for e in events if isinstance(e, Notice)] == [
        "left out the 1 oldest turn to stay within the context budget (~200 tokens)"]
    assert [m.content[0] for m in qwen.requests[-1].messages] == ["b", "y", "c"]
    assert len(session.conversation.messages) == 6 and session.last.dropped == 1


def test_context_used_is_the_last_requests_size_after_tool_rounds(session, qwen):
    qwen.enqueue(tool_reply(("c1", "get_current_time", SHANGHAI), usage=tokens(100, 10)),
                 text_reply("noon", usage=tokens(150, 20)))
    say(session, "time?")
    assert session.context_used() == 170


# --- tallies, flags checked at once, key problems, rename and export ----------------------------


def test_the_conversation_tally_restarts_with_clear_and_resume_and_the_session_tally_goes_on(
        make_session, write_config, store, qwen):
    cfg = write_config('[prices."qwen-plus"]\ninput = 1.0\noutput = 1.0\n')
    session = make_session(cfg, store=store)
    qwen.enqueue(text_reply("one", usage=tokens(1000, 0)))
    say(session, "first")
    first = session.conversation_id
    session.clear()
    assert (session.requests, session.totals, session.cost) == (0, Usage(), None)
    assert (session.session_tally.requests, session.session_tally.usage) == (1, tokens(1000, 0))
    qwen.enqueue(text_reply("two", usage=tokens(2000, 0)))
    say(session, "second")
    assert (session.tally.requests, session.tally.usage, session.tally.cost) == (1, tokens(2000, 0), 0.002)
    session.resume(first)
    assert session.tally.requests == 0
    assert (session.session_tally.requests, session.session_tally.usage.total_tokens) == (2, 3000)
    assert session.session_tally.cost == pytest.approx(0.003)


@pytest.mark.parametrize("before", [None, True])
def test_search_on_is_refused_by_the_providers_own_check_and_leaves_the_flags(session, before):
    session.set_flag("search", before)  # the qwen fake takes anything
    session.switch_provider("openai")  # a real OpenAI-compatible provider: nothing is sent
    with pytest.raises(UsageError, match="openai: this OpenAI-compatible server has no web search"):
        session.set_flag("search", True)
    assert session.flags.search is before  # as it was
    session.set_flag("search", False)
    assert session.flags.search is False
    session.set_flag("think", True)  # this server is told nothing of thinking, and does not refuse it
    assert session.flags.think is True


def test_a_flag_is_not_blamed_for_a_refusal_it_does_not_cause(make_session, write_config):
    session = make_session(write_config('[providers.qwen-intl]\ntop_p = 1.0\n'))
    session.switch_provider("qwen-intl")  # the real DashScope check refuses top_p 1
    with pytest.raises(UsageError, match="top-p"):
        session.check()
    session.set_flag("search", True)  # refused with or without it: the next send says why
    assert session.flags.search is True


def test_key_problem_names_where_a_key_would_come_from_without_showing_or_running_anything(
        make_session, write_config, tmp_path, monkeypatch):
    marker = tmp_path / "ran"
    cfg = write_config(f'[providers.zhipu]\napi_key_cmd = "touch {marker}"\n[providers.local]\nkind = "openai"\n'
                       'base_url = "http://localhost:1/v1"\nmodel = "m"\n')
    session = make_session(cfg)
    monkeypatch.delenv("DASHSCOPE_API_KEY", raising=False)
    assert session.key_problem() == "no API key for qwen: set DASHSCOPE_API_KEY or providers.qwen.api_key_cmd"
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-ok")
    assert session.key_problem() is None
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-bäd")
    problem = session.key_problem()
    assert problem is not None and "DASHSCOPE_API_KEY" in problem and "sk-b" not in problem
    session.switch_provider("zhipu")
    assert session.key_problem() is None and not marker.exists()  # a command is not run for this
    session.switch_provider("local")
    assert session.key_problem() is None  # needs no key


def test_image_problem_comes_from_the_catalog(session):
    assert session.image_problem() == "qwen-plus cannot read images; switch with /model qwen-vl-plus"
    session.switch_model("qwen-vl-max")
    assert session.image_problem() is None
    session.switch_model("some-local-model")
    assert session.image_problem() is None


def test_rename_needs_a_saved_conversation(make_session, store, qwen):
    session = make_session(store=store)
    with pytest.raises(UsageError, match="not saved yet"):
        session.rename("early")
    qwen.enqueue("a")
    say(session, "q")
    assert session.rename("  a\nnew   name ") == "a new name"
    assert store.info(session.conversation_id).title == "a new name"
    with pytest.raises(UsageError, match="needs some text"):
        session.rename("   ")


def test_export_markdown_is_the_stores_export_or_from_memory_without_a_store(make_session, store, qwen):
    saved = make_session(store=store, system="Be brief.")
    with pytest.raises(UsageError, match="nothing to export yet"):
        saved.export_markdown()
    unsaved = make_session(system="Be brief.")
    qwen.enqueue("a1", "a2")
    say(saved, "q1")
    say(unsaved, "q2")
    assert saved.export_markdown() == store.export(saved.conversation_id, "md")
    text = unsaved.export_markdown()
    assert text.startswith(f"# q2\n\n- id: {unsaved.conversation_id}\n")
    assert "## System\n\nBe brief.\n" in text and "\n\nq2\n" in text and "\n\na2\n" in text
