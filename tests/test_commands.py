"""/copy, /edit, /export, /rename, /load's Tab, /search and /image checks, and the transcript, in-process.

Driven through the pipe-input rig (tests/repl_harness.py) with fake providers; the editor is a small
Python script run as $EDITOR.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from chatcli.core.messages import Message, TextDelta, ToolCall
from chatcli.repl import transcript
from chatcli.repl.clipboard import osc52
from chatcli.repl.completer import SlashCompleter
from chatcli.repl.editor import EditorError, edit, editor_command
from chatcli.store.store import Store
from chatcli.ui.terminal import Terminal
from tests.fakeprovider import text_reply
from tests.repl_harness import ReplRig, TerminalText, contents, preset_config

TIME_CALL = ("c1", "get_current_time", '{"timezone": "Asia/Shanghai"}')
ANSWER = """Three ways:

```python
print("one")
```

1. In a list:

   ```sh
   echo two
   echo 2
   ```

```
three
```
"""


@pytest.fixture(autouse=True)
def plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """No colour, and no desktop clipboard tool to find, whatever the environment running the tests says."""
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("NO_COLOR", "1")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "WSL_DISTRO_NAME", "WSL_INTEROP", "VISUAL", "EDITOR"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Callable[..., ReplRig]]:
    """ReplRig(config, **open_session options) with stderr a plain pipe, closed after the test."""
    cfg = preset_config(tmp_path)
    rigs: list[ReplRig] = []

    def new(**options: Any) -> ReplRig:
        rig = ReplRig(cfg, **options)
        rig.term.err = rig.err = io.StringIO()  # not a terminal: each `chat: ...` line whole, never wrapped
        rigs.append(rig)
        return rig

    yield new
    for rig in rigs:
        rig.close()
        assert not any(fake.pending for fake in rig.fakes.values()), "replies queued and never asked for"


@pytest.fixture
def rig(make: Callable[..., ReplRig]) -> ReplRig:
    return make()


def on_a_terminal(rig: ReplRig) -> TerminalText:
    """From now on the rig's stdout says it is a terminal (so /copy writes OSC 52 there)."""
    rig.term.out = TerminalText()
    return rig.term.out


def saved(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "chat.db", lambda message: None)


# --- /copy ------------------------------------------------------------------------------------

@pytest.mark.skipif(sys.platform == "darwin", reason="pbcopy would be found and run")
@pytest.mark.parametrize("arg, copied, said", [
    ("2", "echo two\necho 2", "copied code block 2 of 3 (2 lines)"),
    ("", "three", "copied code block 3 of 3 (1 line)"),
    ("1", 'print("one")', "copied code block 1 of 3 (1 line)"),
    ("all", ANSWER, f"copied the answer ({len(ANSWER):,} characters)"),
    ("ALL", ANSWER, f"copied the answer ({len(ANSWER):,} characters)"),
])
def test_copy_writes_exactly_one_osc52_with_the_chosen_block(rig, arg, copied, said):
    rig.qwen.enqueue(text_reply(ANSWER))
    rig.run("three ways?")
    out = on_a_terminal(rig)
    rig.run(f"/copy {arg}".strip())
    assert out.getvalue() == osc52(copied) + said + "\n"
    assert rig.chat_lines() == []


def test_copy_takes_the_last_answer_over_its_tool_rounds(rig):
    rig.qwen.enqueue("old answer\n\n```\nold\n```\n", [TIME_CALL], "It is noon:\n\n```\n12:00\n```\n")
    rig.run("first", "time?")
    out = on_a_terminal(rig)
    rig.run("/copy", "/copy 2")
    assert out.getvalue() == osc52("12:00") + "copied code block 1 of 1 (1 line)\n"
    assert rig.chat_lines() == ["chat: no code block 2 (the last answer has 1)"]


def test_copy_without_code_blocks_copies_the_answer(rig):
    rig.qwen.enqueue("just prose")
    rig.run("hi")
    out = on_a_terminal(rig)
    rig.run("/copy", "/copy 1", "/copy ²")
    assert out.getvalue() == osc52("just prose") + "copied the answer (10 characters)\n"
    assert rig.chat_lines() == ["chat: no code block 1 (the last answer has none)",
                                "chat: usage: /copy [N|all] (N counts the last answer's code blocks from 1)"]


def test_copy_refuses_what_is_not_there(rig):
    rig.run("/copy")
    rig.qwen.enqueue(text_reply(ANSWER))
    rig.run("three ways?")
    out = on_a_terminal(rig)
    rig.run("/copy 4", "/copy 0", "/copy two")
    assert rig.chat_lines() == [
        "chat: nothing to copy yet",
        "chat: no code block 4 (the last answer has 3)",
        "chat: no code block 0 (the last answer has 3)",
        "chat: usage: /copy [N|all] (N counts the last answer's code blocks from 1)",
    ]
    assert out.getvalue() == ""


@pytest.mark.skipif(sys.platform == "darwin", reason="pbcopy would be found and run")
def test_copy_with_no_terminal_and_no_tool_says_it_reached_nothing(rig):
    rig.qwen.enqueue("text")
    rig.run("hi", "/copy")
    assert "\x1b]52" not in rig.said()
    assert rig.chat_lines() == [
        "chat: could not copy the answer (4 characters): stdout is not a terminal (for OSC 52) and no clipboard "
        "tool (wl-copy, xclip, xsel, pbcopy, clip.exe) was found"]


def test_copy_is_offered_all_by_tab(rig):
    assert completed(rig, "/copy a") == ["/copy all"]


# --- /edit ------------------------------------------------------------------------------------

def editor_writing(text: str) -> str:
    """$EDITOR: a Python script that appends text to the file it is given."""
    script = f"import sys; open(sys.argv[-1], 'a', encoding='utf-8').write({text!r})"
    return f"{sys.executable} -c \"{script}\""


def with_editor(rig: ReplRig, editor: str) -> None:
    rig.term.environ = {**rig.term.environ, "EDITOR": editor}


def test_edit_sends_what_the_editor_saved(rig):
    with_editor(rig, editor_writing("\n\n  a long\nmessage  \n\n"))
    rig.qwen.enqueue("got it", "again")
    rig.run("/edit", "/edit begin:")
    assert [r.messages[-1].content for r in rig.qwen.requests] == ["a long\nmessage", "begin:\n\n  a long\nmessage"]
    assert "got it" in rig.said()


def test_edit_sends_nothing_when_the_file_is_left_empty(rig):
    with_editor(rig, editor_writing("   \n"))
    rig.run("/edit")
    assert "nothing sent" in rig.said()
    assert rig.qwen.requests == []


def test_edit_with_an_editor_that_cannot_start_is_one_error_line(rig):
    with_editor(rig, "/nonexistent/bin/editor --wait")
    rig.run("/edit")
    assert rig.chat_lines() == [
        "chat: cannot start the editor /nonexistent/bin/editor --wait: No such file or directory — nothing sent"]
    assert rig.qwen.requests == []


@pytest.mark.parametrize("environ, expected", [
    ({"VISUAL": "nvim", "EDITOR": "nano"}, ["nvim"]),
    ({"EDITOR": "code -w"}, ["code", "-w"]),
    ({"EDITOR": "'/opt/my editor/bin/ed' --wait"}, ["/opt/my editor/bin/ed", "--wait"]),
    ({"VISUAL": " ", "EDITOR": "nano"}, ["nano"]),
    ({}, ["vi"]),
])
def test_the_editor_command(environ, expected):
    assert editor_command(environ) == expected


def test_the_editor_gets_a_private_md_file_holding_the_text_and_it_is_removed():
    script = ("import os, stat, sys; p = sys.argv[-1]; "
              "assert p.endswith('.md') and stat.S_IMODE(os.stat(p).st_mode) == 0o600, p; "
              "old = open(p).read(); open(p, 'w').write('  ' + old + ' and more\\n\\n')")
    seen: list[str] = []

    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
        seen.append(argv[-1])
        return subprocess.run(argv, **kw)

    assert edit("draft", {"EDITOR": f"{sys.executable} -c \"{script}\""}, run=run) == "draft and more"
    assert not os.path.exists(seen[0])


def test_ctrl_c_while_the_editor_runs_is_an_editor_error():
    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[bytes]:
        raise KeyboardInterrupt

    with pytest.raises(EditorError, match="the editor nano was interrupted"):
        edit("", {"EDITOR": "nano"}, run=run)


@pytest.mark.parametrize("editor, message", [
    (f"{sys.executable} -c 'raise SystemExit(3)'", f"the editor {sys.executable} exited with status 3"),
    ("vim 'unclosed", "cannot read $EDITOR (\"vim 'unclosed\"): No closing quotation"),
])
def test_an_editor_that_fails_is_one_error(editor, message):
    with pytest.raises(EditorError) as caught:
        edit("", {"EDITOR": editor})
    assert caught.value.message == message


# --- /export and /rename ------------------------------------------------------------------------

def test_export_writes_the_saved_markdown_once_and_never_overwrites(rig, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rig.run("/export")
    rig.qwen.enqueue("an answer")
    rig.run("a question", "/export", "/export")
    cid = rig.session.conversation_id
    path = Path(f"chat-{cid}.md")
    with saved(tmp_path) as store:
        assert path.read_text(encoding="utf-8") == store.export(cid, "md")
    assert "## Assistant · qwen-plus" in path.read_text(encoding="utf-8")
    assert f"exported this conversation to chat-{cid}.md" in rig.said()
    assert rig.chat_lines() == ["chat: nothing to export yet",
                                f"chat: chat-{cid}.md exists; not overwritten (/export PATH writes elsewhere)"]


def test_export_to_a_path_or_a_directory(rig, tmp_path):
    rig.qwen.enqueue("an answer")
    (tmp_path / "out").mkdir()
    rig.run("a question", f"/export {tmp_path}/mine.md", f"/export {tmp_path}/out")
    cid = rig.session.conversation_id
    assert (tmp_path / "mine.md").read_text(encoding="utf-8") == \
        (tmp_path / "out" / f"chat-{cid}.md").read_text(encoding="utf-8")
    rig.run(f"/export {tmp_path}/nodir/x.md")
    assert rig.chat_lines() == [f"chat: cannot write {tmp_path}/nodir/x.md: No such file or directory"]


def test_export_without_saving_exports_the_conversation_in_memory(make, tmp_path):
    rig = make(save=False, system="Be brief.")
    rig.qwen.enqueue("an answer")
    rig.run("a question", f"/export {tmp_path}/x.md")
    text = (tmp_path / "x.md").read_text(encoding="utf-8")
    assert text.startswith("# a question\n")
    for part in ("## System\n\nBe brief.", "## User · ", "a question", "## Assistant · qwen-plus · ", "an answer"):
        assert part in text


def test_rename_titles_the_saved_conversation(rig, tmp_path):
    rig.run("/rename too early", "/rename")
    rig.qwen.enqueue("ok", "more")
    rig.run("first words", "/rename  Trip   to Xi'an ", "second words")
    cid = rig.session.conversation_id
    with saved(tmp_path) as store:
        assert store.info(cid).title == "Trip to Xi'an"  # kept over later messages
    assert f"renamed {cid} to “Trip to Xi'an”" in rig.said()
    assert rig.chat_lines() == ["chat: this conversation is not saved yet: it is saved with its first message",
                                "chat: usage: /rename TITLE"]


def test_rename_without_a_history_says_why(make):
    rig = make(save=False)
    rig.qwen.enqueue("ok")
    rig.run("hi", "/rename x")
    assert rig.chat_lines() == [
        "chat: the conversation history is off (--no-save or [store] enabled = false): nothing to rename"]


# --- /load's Tab --------------------------------------------------------------------------------

def completions(rig: ReplRig, text: str) -> list[tuple[str, str]]:
    found = SlashCompleter(rig.repl).get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [(c.text, c.display_meta_text) for c in found]


def completed(rig: ReplRig, text: str) -> list[str]:
    found = SlashCompleter(rig.repl).get_completions(Document(text), CompleteEvent(completion_requested=True))
    return [text[: len(text) + c.start_position] + c.text for c in found]


def test_load_offers_recent_ids_with_their_titles_and_completes_a_title(rig):
    assert completions(rig, "/load ") == []
    rig.qwen.enqueue("a", "b")
    rig.run("topic Alpha", "/clear", "topic Beta")
    with saved(Path(rig.cfg.store.path).parent) as store:
        ids = {r.title: r.id for r in store.list()}
    alpha, beta = ids["topic Alpha"], ids["topic Beta"]
    assert completions(rig, "/load ") == [(beta, "topic Beta"), (alpha, "topic Alpha")]  # newest first
    assert completed(rig, "/load alp") == [f"/load {alpha}"]
    assert completed(rig, f"/load {alpha[:3]}") == [f"/load {alpha}"] or alpha[:3] == beta[:3]
    rig.qwen.enqueue("more")
    rig.run(f"/load {completed(rig, '/load Alpha')[0].split()[1]}", "go on")
    assert contents(rig.qwen.requests[-1]) == ["topic Alpha", "a", "go on"]


# --- /search and /image checked at the command ----------------------------------------------------

def test_search_on_is_refused_at_once_where_the_provider_has_no_web_search(rig):
    rig.run("/provider openai", "/search on", "/search off")
    assert rig.chat_lines() == ["chat: openai: this OpenAI-compatible server has no web search; "
                                "--search works with DashScope (qwen) and Zhipu (zhipu)"]
    assert "web search on" not in rig.said() and "web search off" in rig.said()
    assert rig.session.flags.search is False
    assert "search on" not in rig.toolbar()


def test_search_on_is_kept_where_the_provider_searches(rig):
    rig.qwen.enqueue("found")
    rig.run("/search on", "look it up")
    assert "web search on" in rig.said()
    assert rig.qwen.requests[0].generation.search is True


@pytest.mark.parametrize("model, warned", [
    ("qwen-plus", "chat: qwen-plus cannot read images; switch with /model qwen-vl-plus (attached anyway)"),
    ("qwen-vl-max", None),
    ("my-own-model", None),  # not in the catalog: no claim either way
])
def test_image_warns_at_once_when_the_model_cannot_read_images(rig, model, warned):
    rig.run(f"/model {model}", "/image https://example.com/cat.png")
    assert rig.chat_lines() == ([warned] if warned else [])
    assert len(rig.repl.attached) == 1  # attached all the same


def test_image_warning_names_a_vision_model_of_the_provider_in_use(rig):
    rig.run("/provider zhipu", "/image https://example.com/cat.png")
    assert rig.chat_lines() == ["chat: glm-4-plus cannot read images; switch with /model glm-4v-plus (attached anyway)"]


# --- the transcript -------------------------------------------------------------------------------

HISTORY = [
    Message("system", "Be brief."),
    Message("user", "old question"),
    Message("assistant", "old answer"),
    Message("user", "what **time** is it?"),
    Message("assistant", "Let me look. ", tool_calls=[ToolCall("c1", "get_current_time", '{"timezone": "UTC"}')]),
    Message("tool", '{"time": "12:00"}', tool_call_id="c1", name="get_current_time"),
    Message("assistant", "It is **noon**.", interrupted=True),
]


def test_last_exchange_is_the_last_question_and_everything_after_it():
    assert transcript.last_exchange(HISTORY) == HISTORY[3:]
    assert transcript.last_exchange(HISTORY[:1]) == []
    assert transcript.answer_text(HISTORY) == "Let me look. It is **noon**."
    assert transcript.answer_text(HISTORY[:4]) == ""


def test_show_labels_speakers_and_renders_answers_as_markdown_in_colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR")
    out = TerminalText()
    term = Terminal(out=out, err=TerminalText(), environ={"TERM": "xterm"})
    transcript.show(term, transcript.last_exchange(HISTORY))
    text = out.getvalue()
    assert text.startswith("\x1b[1;36myou\x1b[0m\nwhat **time** is it?\n")  # the user's words as typed
    assert "\x1b[1;32massistant\x1b[0m\x1b[2m · interrupted\x1b[0m" in text
    assert '\x1b[2m⚙ get_current_time(timezone="UTC") → {"time": "12:00"}\x1b[0m' in text
    assert "noon" in text and "**noon**" not in text  # rendered, not the raw markdown
    assert "Be brief" not in text and "old" not in text


def test_show_to_a_pipe_is_plain_text():
    out = io_text = TerminalText()
    out.isatty = lambda: False  # type: ignore[method-assign]
    term = Terminal(out=io_text, err=TerminalText(), environ={"TERM": "xterm", "NO_COLOR": "1"})
    transcript.show(term, HISTORY[1:3])
    assert out.getvalue() == "you\nold question\n\nassistant\nold answer\n"


def test_history_of_an_empty_conversation(rig):
    rig.run("/history")
    assert rig.said() == "(empty conversation)\n"


def test_show_takes_the_repl_too(rig):
    rig.qwen.enqueue([TextDelta("an "), TextDelta("answer")])
    rig.run("q")
    before = len(rig.said())
    transcript.show(rig.repl, rig.session.conversation.messages)
    assert rig.said()[before:] == "you\nq\n\nassistant\nan answer\n"
