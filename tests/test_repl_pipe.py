"""The interactive session in-process: keys through prompt-toolkit's pipe input, replies from fake providers.

What the user sees is read from the captured stdout (the answers) and stderr (dim lines, notices and
`chat: ...` errors); what was sent, from each fake's `requests`. tests/test_repl.py keeps the few
checks only a real terminal can make.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chatcli.core.messages import TextDelta, Usage
from chatcli.errors import AuthError, RateLimitError, ServerError
from chatcli.repl import commands
from chatcli.repl.completer import SlashCompleter
from chatcli.store.store import Store
from tests.fakeprovider import text_reply
from tests.repl_harness import (
    ALT_ENTER,
    CTRL_C,
    CTRL_D,
    ENTER,
    PASTE_END,
    PASTE_START,
    UP,
    ReplRig,
    contents,
    preset_config,
    roles,
)

TIME_CALL = ("c1", "get_current_time", '{"timezone": "Asia/Shanghai"}')


@pytest.fixture(autouse=True)
def plain_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dim lines without escape codes, whatever the environment running the tests says."""
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., ReplRig]]:
    """ReplRig(config, **open_session options), closed after the test."""
    cfg = preset_config(tmp_path)
    rigs: list[ReplRig] = []

    def new(**options: object) -> ReplRig:
        rigs.append(ReplRig(cfg, **options))
        return rigs[-1]

    yield new
    for rig in rigs:
        rig.close()
        unplayed = {name: fake.pending for name, fake in rig.fakes.items() if fake.pending}
        assert not unplayed, f"replies queued and never asked for: {unplayed}"


@pytest.fixture
def rig(make: Callable[..., ReplRig]) -> ReplRig:
    return make()


# --- turns --------------------------------------------------------------------------------

def test_two_turns_keep_history(rig):
    rig.qwen.enqueue(text_reply("你好！", "有什么可以帮你？", usage=Usage(8, 6, 14)), "好的。")
    assert rig.run("你好", "再说一遍") == 0
    said = rig.said()
    assert "你好！有什么可以帮你？" in said and said.index("有什么可以帮你？") < said.index("好的。")
    assert re.search(r"^qwen-plus · .* · 8 in / 6 out$", rig.err.getvalue(), re.MULTILINE)
    assert roles(rig.qwen.requests[1]) == [
        ("user", "你好"), ("assistant", "你好！有什么可以帮你？"), ("user", "再说一遍")]
    assert rig.chat_lines() == []


def test_switch_provider_and_model_mid_session(make):
    rig = make(system="Be brief.")
    rig.qwen.enqueue("first answer")
    rig.zhipu.enqueue("second answer", "third")
    assert rig.prompt() == "qwen:qwen-plus> "
    rig.run("one", "/provider zhipu")
    assert "provider zhipu, model glm-4-plus; the conversation carries over" in rig.said()
    assert rig.prompt() == "zhipu:glm-4-plus> "
    rig.run("two", "/model glm-4-flash")
    assert "model glm-4-flash" in rig.said()
    assert rig.prompt() == "zhipu:glm-4-flash> "
    rig.run("three")
    assert len(rig.qwen.requests) == 1
    assert [r.model for r in rig.zhipu.requests] == ["glm-4-plus", "glm-4-flash"]
    assert contents(rig.zhipu.requests[1]) == ["Be brief.", "one", "first answer", "two", "second answer", "three"]
    assert "glm-4-flash · " in rig.err.getvalue()  # the stats line names the model that answered


def test_provider_and_model_without_an_argument_say_which_and_unknown_provider_is_refused(rig):
    rig.run("/provider", "/model", "/provider nosuch")
    assert f"provider: qwen ({', '.join(rig.cfg.providers)})" in rig.said()
    assert "model: qwen-plus" in rig.said()
    assert rig.chat_lines() == [f"chat: unknown provider 'nosuch' (known: {', '.join(rig.cfg.providers)})"]
    assert rig.prompt() == "qwen:qwen-plus> "


def test_local_tool_runs_in_the_loop_then_tools_off_stops_offering_them(rig):
    rig.qwen.enqueue([TIME_CALL], "现在是下午。", "ok")
    rig.run("几点了？")
    assert "现在是下午。" in rig.said()
    first, second = rig.qwen.requests
    assert {t["function"]["name"] for t in first.tools} == {"get_current_time", "get_current_weather"}
    assert second.tools == first.tools  # offered on every round
    call, result = second.messages[-2:]
    assert [c.id for c in call.tool_calls] == ["c1"]
    assert (result.role, result.tool_call_id, result.name) == ("tool", "c1", "get_current_time")
    found = json.loads(result.content)  # the real tool ran
    assert (found["timezone"], found["utc_offset"]) == ("Asia/Shanghai", "+08:00")
    brief = json.dumps(found, ensure_ascii=False, separators=(",", ":"))[:40]
    assert f'⚙ get_current_time(timezone="Asia/Shanghai") → {brief}' in rig.err.getvalue()  # its dim line
    assert "tools on" in rig.toolbar()
    rig.run("/tools off", "again")
    assert "tools off" in rig.said() and "tools off" in rig.toolbar()
    assert rig.qwen.requests[2].tools is None


@pytest.mark.parametrize("command, attribute", [("/think", "think"), ("/search", "search")])
def test_on_off_switches_reach_the_request(rig, command, attribute):
    rig.qwen.enqueue("ok")
    rig.run(f"{command} maybe", f"{command} on", "hi")
    assert rig.chat_lines() == [f"chat: usage: {command} on|off"]
    assert getattr(rig.qwen.requests[0].generation, attribute) is True
    assert f"{attribute} on" in rig.toolbar()


def test_clear_retry_undo(rig):
    rig.qwen.enqueue("answer one", "answer two", "answer two, again", "answer three", "new")
    rig.run("one", "two", "/retry", "/undo", "three", "/clear", "fresh")
    reqs = rig.qwen.requests
    assert contents(reqs[2]) == ["one", "answer one", "two"]
    assert "answer two, again" in rig.said()
    assert "dropped the last turn: two" in rig.said()
    assert contents(reqs[3]) == ["one", "answer one", "three"]
    assert "new conversation" in rig.said()
    assert roles(reqs[4]) == [("user", "fresh")]


def test_retry_and_undo_with_nothing_to_act_on(rig):
    rig.run("/undo", "/retry")
    assert "nothing to undo" in rig.said()
    assert rig.chat_lines() == ["chat: nothing to retry"]
    assert rig.qwen.requests == []


def test_an_error_returns_to_the_prompt_with_one_line_and_retry_works(rig):
    rig.qwen.enqueue(AuthError("qwen: authentication failed (HTTP 401)", provider="qwen", status=401), "works now")
    rig.run("hello")
    assert rig.chat_lines() == ["chat: qwen: authentication failed (HTTP 401)"]  # no hint: the same again fails
    assert "qwen-plus · " not in rig.err.getvalue()  # no stats line for a failed turn
    rig.run("/retry")
    assert rig.said() == "works now\n"
    assert roles(rig.qwen.requests[1]) == [("user", "hello")]
    assert len(rig.chat_lines()) == 1


def test_a_retried_failure_is_one_notice_then_the_answer(rig):
    rig.qwen.enqueue(RateLimitError("qwen: rate limited (HTTP 429)", provider="qwen", status=429), "fine")
    rig.run("hello")
    assert rig.chat_lines() == ["chat: qwen: retrying in 0.0 s (1/2): rate limited (HTTP 429)"]
    assert rig.said() == "fine\n"
    assert [roles(r) for r in rig.qwen.requests] == [[("user", "hello")]] * 2


def test_a_cut_off_answer_says_so(rig):
    rig.qwen.enqueue(text_reply("the start of", finish="length"))
    rig.run("write a lot")
    assert rig.chat_lines() == ["chat: the answer was cut off at the token limit (finish_reason: length)"]


def test_unknown_command_sends_nothing_and_hints(rig):
    rig.run("/provdier zhipu", "/model")
    assert rig.chat_lines() == [
        "chat: unknown command /provdier (did you mean /provider?); /help lists them, // sends text starting with /"]
    assert "model: qwen-plus" in rig.said()  # the next line was read as usual
    assert rig.qwen.requests == [] and rig.zhipu.requests == []


def test_double_slash_sends_text_beginning_with_a_slash(rig):
    rig.qwen.enqueue("a path")
    rig.run("//etc/hosts is what?")
    assert roles(rig.qwen.requests[0]) == [("user", "/etc/hosts is what?")]
    assert rig.chat_lines() == []


# --- /help and Tab ------------------------------------------------------------------------

def test_help_lists_every_registered_command_and_the_keys(rig):
    rig.run("/help")
    said = rig.said()
    assert commands.help_text() in said
    narrow = commands.help_text(60).splitlines()
    assert max(len(line) for line in narrow) <= 59 and "…" not in "\n".join(narrow)  # wrapped, never cut
    assert " ".join(" ".join(narrow).split()) == " ".join(commands.help_text(200).split())
    listed = re.findall(r"^(/[\w-]+)", said, re.MULTILINE)
    assert listed == [c.name for c in commands.in_help_order()]  # each once, in registry order, nothing else
    for c in commands.COMMANDS:
        assert f"{' '.join(c.usage().split())} {c.help}" in " ".join(said.split()), c.name
    assert "/exit, /quit" in said
    for line in commands.KEYS_HELP:
        assert line in " ".join(said.split())


def completed(rig: ReplRig, text: str) -> list[str]:
    """The line as each of Tab's offers would leave it."""
    found = SlashCompleter(rig.repl).get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [text[: len(text) + c.start_position] + c.text for c in found]


@pytest.mark.parametrize("text, expected", [
    ("/prov", ["/provider"]),
    ("/q", ["/quit"]),
    ("/e", ["/edit", "/export", "/exit"]),
    ("/provider zh", ["/provider zhipu"]),
    ("/provider qwen", ["/provider qwen-intl"]),
    ("/model qwen-m", ["/model qwen-max"]),
    ("/tools o", ["/tools on", "/tools off"]),
    ("/think of", ["/think off"]),
    ("/search on", []),
    ("/history x", []),
    ("/nosuch x", []),
    ("hello /prov", []),
    ("/prov\nx", []),
])
def test_tab_completes_commands_and_their_arguments(rig, text, expected):
    assert completed(rig, text) == expected


def test_tab_offers_every_command_and_every_provider(rig):
    assert completed(rig, "/") == commands.names()
    assert completed(rig, "/provider ") == [f"/provider {name}" for name in rig.cfg.providers]


def test_tab_offers_the_models_of_the_provider_in_use(rig):
    rig.run("/provider zhipu")
    assert completed(rig, "/model glm-4-fl") == ["/model glm-4-flash"]
    assert completed(rig, "/model qwen") == []


@pytest.mark.parametrize("command", ["/file", "/image", "/video"])
def test_tab_completes_paths_for_attachments(rig, tmp_path, command):
    for name in ("notes.txt", "notebook.md", "other.txt"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    assert sorted(completed(rig, f"{command} {tmp_path}/no")) == [
        f"{command} {tmp_path}/notebook.md", f"{command} {tmp_path}/notes.txt"]


# --- the conversation's settings and listings -----------------------------------------------

def test_system_prompt_is_shown_set_sent_and_kept_by_clear(rig):
    rig.qwen.enqueue("ok", "ok again")
    rig.run("/system", "/system Answer in French.", "/system", "hello", "/clear", "again")
    said = rig.said()
    assert said.index("system prompt: (none)") < said.index("system prompt set") \
        < said.index("system prompt: Answer in French.")
    assert roles(rig.qwen.requests[0]) == [("system", "Answer in French."), ("user", "hello")]
    assert roles(rig.qwen.requests[1]) == [("system", "Answer in French."), ("user", "again")]


def test_history_shows_tool_calls_and_marks_interrupted_answers(rig):
    rig.qwen.enqueue(
        [TIME_CALL], "It is noon.",
        [TextDelta("partial "), TextDelta("answer"), KeyboardInterrupt()],  # Ctrl-C while it streams
        [TextDelta("half"), ServerError("qwen: server error (HTTP 500)", status=500)],
        "fine",
    )
    rig.run("/history")
    assert "(empty conversation)" in rig.said()
    rig.run("time?", "slow one", "broken one", "next", "/history")
    err = rig.err.getvalue()
    assert "interrupted — what arrived is kept; /retry asks again" in err
    assert rig.chat_lines() == ["chat: qwen: server error (HTTP 500) — /retry to try again"]
    assert roles(rig.qwen.requests[4])[-5:] == [
        ("user", "slow one"), ("assistant", "partial answer"),
        ("user", "broken one"), ("assistant", "half"), ("user", "next")]
    listing = rig.said()[rig.said().index("you\ntime?"):]
    assert listing == """you
time?

assistant
It is noon.

you
slow one

assistant · interrupted
partial answer

you
broken one

assistant · interrupted
half

you
next

assistant
fine
""", listing
    # the tool call is the dim line the answer showed (stderr, as answers put it when stdout is a pipe)
    assert re.search(r'^⚙ get_current_time\(timezone="Asia/Shanghai"\) → \{"datetime": ', rig.err.getvalue(),
                     re.MULTILINE)


def test_usage_after_usage_was_reported(make):
    rig = make()
    rig.cfg.prices = {"currency": "CNY", "qwen-plus": {"input": 0.8, "output": 2.0}}
    rig.run("/usage")
    assert "this conversation: 0 requests, 0 in, 0 out, 0 total\nthis session: 0 requests, 0 in, 0 out, 0 total\n" \
        in rig.said()
    rig.qwen.enqueue(text_reply("one", usage=Usage(100_000, 50_000, 150_000, cached_tokens=3)),
                     text_reply("two", usage=Usage(20, 5, 25, reasoning_tokens=2)))
    rig.run("first", "second", "/usage")
    assert ("this conversation: 2 requests, 100,020 in, 50,005 out, 150,025 total, 3 cached, 2 reasoning"
            " · cost ¥0.1800") in rig.said()
    assert ("this session: 2 requests, 100,020 in, 50,005 out, 150,025 total, 3 cached, 2 reasoning"
            " · cost ¥0.1800") in rig.said()
    assert "tokens used 150.0k" in rig.toolbar()


def saved(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "chat.db", lambda message: None)


def test_sessions_and_load_in_the_session(rig, tmp_path):
    rig.run("/sessions")
    assert "no saved conversations yet" in rig.said()
    rig.qwen.enqueue("about A", "about B", "sure")
    rig.run("topic A", "/clear", "topic B", "/sessions")
    with saved(tmp_path) as store:
        rows = {r.title: r for r in store.list()}
    a, b = rows["topic A"], rows["topic B"]
    listing = rig.said().rsplit("about B", 1)[1]  # the last answer
    assert re.search(rf"^\* {b.id}  .*  2 msgs  topic B$", listing, re.MULTILINE), listing
    assert re.search(rf"^  {a.id}  .*  2 msgs  topic A$", listing, re.MULTILINE), listing
    assert "/load ID continues one" in listing
    rig.run("/load", "/load zzzz", f"/load {a.id}", "more on A")
    assert rig.chat_lines() == ["chat: usage: /load ID (see /sessions)", "chat: no conversation 'zzzz'"]
    assert f"continuing {a.id} “topic A” (1 turns, qwen:qwen-plus)" in rig.said()
    assert contents(rig.qwen.requests[-1]) == ["topic A", "about A", "more on A"]
    with saved(tmp_path) as store:
        assert [m.content for m in store.messages(a.id)] == ["topic A", "about A", "more on A", "sure"]


def test_resume_restores_provider_and_undo_is_saved(make, tmp_path):
    first = make(provider="zhipu")
    first.zhipu.enqueue("one", "two")
    first.run("first", "second", "/undo")
    assert "dropped the last turn: second" in first.said()
    cid = first.session.conversation_id
    first.close()
    again = make(resume=cid[:4])
    assert f"continuing {cid} “first” (1 turns, zhipu:glm-4-plus)" in again.said()
    assert again.prompt() == "zhipu:glm-4-plus> "
    again.zhipu.enqueue("three")
    again.run("third")
    assert contents(again.zhipu.requests[0]) == ["first", "one", "third"]
    assert again.qwen.requests == []


@pytest.mark.parametrize("save", [True, False])
def test_no_save_keeps_nothing(make, tmp_path, save):
    rig = make(save=save)
    rig.qwen.enqueue("ok")
    rig.run("secret stuff", "/sessions")
    assert ("no saved conversations yet" in rig.said()) is not save
    with saved(tmp_path) as store:
        assert [r.title for r in store.list()] == (["secret stuff"] if save else [])


# --- attachments ------------------------------------------------------------------------------

def test_image_with_a_missing_file_is_one_error_line_and_sends_nothing(rig, tmp_path):
    rig.qwen.enqueue("plain")
    missing = tmp_path / "nope.png"
    rig.run(f"/image {missing}", "hello")
    assert rig.chat_lines() == [f"chat: cannot attach {missing}: no such file"]
    assert roles(rig.qwen.requests[0]) == [("user", "hello")]


def test_file_attaches_to_the_next_message_and_detach_drops_it(rig, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("line of notes\n", encoding="utf-8")
    rig.run(f"/file {notes}", "/image")
    assert "attached file notes.txt (14 bytes) to the next message" in rig.said()
    assert "  file notes.txt (14 bytes)" in rig.said()  # /image without a path lists what is attached
    assert "1 attached" in rig.toolbar()
    rig.qwen.enqueue("plain", "read it")
    rig.run("/detach", "/detach", "hello", f"/file '{notes}'", "summarise")
    said = rig.said()
    assert said.index("dropped 1 attachment") < said.index("nothing was attached")
    assert rig.qwen.requests[0].messages[-1].content == "hello"
    assert rig.qwen.requests[1].messages[-1].content == "summarise\n\nFile: notes.txt\n```txt\nline of notes\n```"
    assert "attached" not in rig.toolbar()


# --- keys ---------------------------------------------------------------------------------------

def test_multiline_paste_and_esc_enter(rig):
    rig.qwen.enqueue("pasted", "typed")
    rig.run(keys=f"{PASTE_START}line one\nline two{PASTE_END}{ENTER}first{ALT_ENTER}second{ENTER}")
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["line one\nline two", "first\nsecond"]


def test_up_recalls_the_last_line(rig):
    rig.qwen.enqueue("ok", "ok again")
    rig.run("remember this line")
    rig.run(keys=UP + ENTER)
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["remember this line"] * 2


def test_ctrl_d_exits_0(rig):
    assert rig.run(keys=CTRL_D + "never sent" + ENTER) == 0
    assert rig.qwen.requests == []


def test_end_of_input_exits_0(rig):
    rig.qwen.enqueue("ok")
    assert rig.run("last words", end=None) == 0
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["last words"]


@pytest.mark.parametrize("command", ["/exit", "/quit"])
def test_exit_and_quit_leave(rig, command):
    assert rig.run(command, "never sent") == 0
    assert rig.qwen.requests == []


def test_ctrl_c_clears_a_typed_line_without_arming_exit(rig):
    rig.qwen.enqueue("ok")
    rig.run(keys=f"some draft{CTRL_C}{CTRL_C}kept{ENTER}")
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["kept"]  # the draft was dropped


def test_ctrl_c_twice_on_an_empty_line_exits(rig):
    rig.qwen.enqueue("ok")
    rig.run(keys=f"{CTRL_C}x{CTRL_C}{CTRL_C}sent{ENTER}")  # clearing a line disarms
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["sent"]
    assert rig.run(keys=f"{CTRL_C}{CTRL_C}never sent{ENTER}") == 0
    assert rig.repl.exit_armed
    assert rig.toolbar() == " press Ctrl-C again or Ctrl-D to leave"
    assert len(rig.qwen.requests) == 1


def test_each_answer_ends_its_line_when_stdout_is_not_a_terminal(rig):
    rig.qwen.enqueue("one", "two")
    rig.run("first", "second", "/model")
    assert rig.said().splitlines() == ["one", "two", "model: qwen-plus"]


def test_tools_on_is_not_claimed_when_the_config_disables_tools(make):
    rig = make()
    rig.cfg.tools.enabled = False
    rig.qwen.enqueue("ok")
    rig.run("/tools on", "hi")
    assert ("tools on" in rig.toolbar()) == (rig.qwen.requests[0].tools is not None)


def test_usage_after_clear_does_not_count_the_old_conversation(rig):
    rig.qwen.enqueue(text_reply("a", usage=Usage(8, 6, 14)), text_reply("b", usage=Usage(100, 20, 120)))
    rig.run("hi", "/clear", "/usage", "again", "/usage")
    first, second = rig.said().split("new conversation\n", 1)[1].split("b\n")
    assert first == "this conversation: 0 requests, 0 in, 0 out, 0 total\nthis session: 1 request, 8 in, 6 out, 14 total\n"
    assert second == ("this conversation: 1 request, 100 in, 20 out, 120 total\n"
                      "this session: 2 requests, 108 in, 26 out, 134 total\n")
    assert "tokens used 120" in rig.toolbar()  # the toolbar counts this conversation
