"""Roles ([roles.NAME], -r, /role, `chat roles`) and CharacterGLM personas: config, wire, REPL, store."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from chatcli.app.session import open_session
from chatcli.cli.main import run
from chatcli.config.loading import build, load_config
from chatcli.config.roles import BUILTIN_ROLES, Role, persona_prompt, role_system
from chatcli.store import schema
from chatcli.store.store import Store
from chatcli.ui.terminal import Terminal
from tests import fakeserver as fs
from tests.fakeprovider import FakeProvider
from tests.repl_harness import ReplRig, preset_config

PERSONA = {
    "bot_name": "苏梦远",
    "bot_info": "苏梦远，本名苏远心，是一位当红的国内女歌手及演员。",
    "user_name": "陆星辰",
    "user_info": "我是陆星辰，是一位知名导演，也是苏梦远的合作导演。",
}
ROLES = """
[roles.poet]
description = "answers in verse"
system = "You are a poet."
model = "qwen-max"
temperature = 0.3
max_tokens = 50

[roles.su]
provider = "zhipu"
model = "charglm-3"
bot_name = "苏梦远"
bot_info = "苏梦远，本名苏远心，是一位当红的国内女歌手及演员。"
user_name = "陆星辰"
user_info = "我是陆星辰，是一位知名导演，也是苏梦远的合作导演。"
"""


@pytest.fixture
def cli(chat, monkeypatch, capsys):
    """`chat ARGS` in-process against the loopback server, with the test config plus ROLES."""
    for name, value in chat.env.items():
        monkeypatch.setenv(name, value)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CHATCLI_CONFIG", str(chat.config))
    chat.config.write_text(chat.config.read_text() + ROLES, encoding="utf-8")

    def invoke(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        capsys.readouterr()
        code = run(list(argv), Terminal(out, err, stdin=io.StringIO(), environ={}))
        captured = capsys.readouterr()  # the commands write to sys.stdout (and their own Terminal)
        return code, out.getvalue() + captured.out, err.getvalue() + captured.err

    invoke.config = chat.config  # type: ignore[attr-defined]
    return invoke


def messages(body: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(m["role"], m["content"]) for m in body["messages"]]


# --- the config ---------------------------------------------------------------------------------

def test_built_in_roles_are_overridden_key_by_key(tmp_path):
    text = '[roles.shell]\nprovider = "zhipu"\n\n[roles.mine]\nsystem = "hi"\ntools = true\nseed = 7\n'
    raw = {"roles": {"shell": {"provider": "zhipu"}, "mine": {"system": "hi", "tools": True, "seed": 7}}}
    cfg = build(raw, tmp_path / "c.toml", text, exists=True)
    assert list(cfg.roles) == ["shell", "translate", "code", "mine"]
    shell = cfg.role("shell")
    assert shell.provider == "zhipu" and shell.system == BUILTIN_ROLES["shell"]["system"] and shell.tools is False
    assert cfg.role("mine") == Role("mine", system="hi", tools=True, seed=7)
    assert "中文" in cfg.role("translate").system and "English" in cfg.role("translate").system


@pytest.mark.parametrize("table, line, needle", [
    ("[roles.x]\nsystem = 'a'\ntemperature = 5\n", 3, "roles.x.temperature must be a number in [0, 2)"),
    ("[roles.x]\nsytem = 'a'\n", 2, "unknown key 'sytem' in [roles.x] (did you mean 'system'?)"),
    ("[roles.x]\nprovider = 'nope'\n", 2, "roles.x.provider names no provider 'nope'"),
    ("[roles.x]\ntools = 'yes'\n", 2, "roles.x.tools must be true or false"),
    ("roles = 3\n", 1, "roles must be a table"),
])
def test_a_bad_role_table_is_one_line_with_file_and_line(cli, table, line, needle):
    cli.config.write_text(table, encoding="utf-8")
    code, out, err = cli("ask", "hi")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"chat: {cli.config}:{line}: ") and needle in err, err


def test_an_unknown_role_lists_the_known_ones(cli, server):
    code, _, err = cli("ask", "-r", "nope", "hi")
    assert code == 2 and err == "chat: unknown role 'nope' (known: shell, translate, code, poet, su)\n"
    assert fs.completions(server) == []


def test_config_get_and_set_roles(cli):
    assert cli("config", "get", "roles.poet.temperature")[1] == "0.3\n"
    code, _, err = cli("config", "set", "roles.new.system", "Be brief, 简洁。")
    assert code == 0, err
    assert load_config(str(cli.config)).role("new").system == "Be brief, 简洁。"
    code, _, err = cli("config", "set", "roles.new.top_p", "3")
    assert code == 2 and "roles.new.top_p must be a number in (0, 1]" in err
    assert cli("config", "get", "roles.shell.tools")[1] == "false\n"


def test_chat_roles_to_a_pipe(cli):
    code, out, _ = cli("roles")
    lines = out.splitlines()
    assert code == 0 and lines[0] == "name\tprovider/model\tdescription"
    assert "poet\t-/qwen-max\tanswers in verse" in lines and "su\tzhipu/charglm-3\t" in lines
    assert lines[1].startswith("shell\t-\t")


# --- what is sent ---------------------------------------------------------------------------------

def test_a_roles_options_system_and_model_reach_the_request(cli, server):
    server.queue(fs.dashscope_text(["ok"]))
    code, out, err = cli("ask", "-r", "poet", "hi")
    assert code == 0 and out == "ok\n", err
    body = fs.completions(server)[-1].json
    assert body["model"] == "qwen-max" and body["temperature"] == 0.3 and body["max_tokens"] == 50
    assert messages(body) == [("system", "You are a poet."), ("user", "hi")]


def test_flags_win_over_the_role(cli, server):
    server.queue(fs.dashscope_text(["ok"]))
    code, _, err = cli("ask", "--role", "poet", "-m", "qwen-turbo", "--temperature", "1.1", "-s", "Terse.", "hi")
    assert code == 0, err
    body = fs.completions(server)[-1].json
    assert body["model"] == "qwen-turbo" and body["temperature"] == 1.1 and body["max_tokens"] == 50
    assert messages(body)[0] == ("system", "Terse.")


def test_a_charglm_persona_goes_as_meta_with_no_system_message(cli, server):
    server.queue(fs.zhipu_text(["我们", "一起"]))
    code, out, err = cli("ask", "-r", "su", "请问你在做什么")
    assert code == 0 and out == "我们一起\n", err
    body = fs.completions(server)[-1].json
    assert body["model"] == "charglm-3" and body["meta"] == PERSONA
    assert messages(body) == [("user", "请问你在做什么")]


def test_another_model_gets_the_persona_as_a_system_prompt(cli, server):
    server.queue(fs.zhipu_text(["hi"]))
    code, _, err = cli("ask", "-r", "su", "-m", "glm-4-flash", "hi")
    assert code == 0, err
    body = fs.completions(server)[-1].json
    assert "meta" not in body
    role, system = messages(body)[0]
    assert role == "system" and system == persona_prompt(PERSONA)
    assert all(v in system for v in PERSONA.values())


def test_persona_prompt_comes_before_the_roles_own_system():
    role = Role("r", system="Answer in Chinese.", bot_name="Ann")
    assert role_system(role, "openai", "gpt-4o").endswith("\n\nAnswer in Chinese.")
    assert role_system(role, "zhipu", "charglm-3") == "Answer in Chinese."
    assert role_system(Role("r", bot_name="Ann"), "zhipu", "charglm-4") is None


# --- saved and continued ------------------------------------------------------------------------------

def test_the_role_is_saved_continued_and_listed(cli, server):
    server.queue(fs.dashscope_text(["one"]), fs.dashscope_text(["two"]))
    assert cli("ask", "-r", "poet", "first")[0] == 0
    code, _, err = cli("ask", "-c", "second")
    assert code == 0, err
    body = fs.completions(server)[-1].json
    assert body["temperature"] == 0.3 and body["model"] == "qwen-max"
    assert messages(body)[0] == ("system", "You are a poet.")
    code, out, _ = cli("sessions", "list")
    header, row = out.splitlines()[:2]
    assert header == "id\tupdated\tmessages\tmodel\trole\ttitle" and row.split("\t")[4] == "poet"
    listed = json.loads(cli("sessions", "list", "--json")[1])
    assert listed[0]["role"] == "poet" and listed[0]["extra"] == {}


def test_exports_label_answers_with_the_personas_name(cli, server):
    server.queue(fs.zhipu_text(["我们一起"]))
    assert cli("ask", "-r", "su", "hi")[0] == 0
    cid = json.loads(cli("sessions", "list", "--json")[1])[0]["id"]
    text = cli("sessions", "export", cid)[1]
    assert "## 苏梦远 · charglm-3" in text and "- role: su" in text and "## Assistant" not in text
    shown = cli("sessions", "show", cid)[1]  # to a pipe: the same markdown
    assert "## 苏梦远 · charglm-3" in shown and "## Assistant" not in shown


def test_a_version_2_database_is_migrated(tmp_path: Path):
    path = tmp_path / "chat.db"
    db = sqlite3.connect(path, isolation_level=None)
    schema._migrate_v1(db)
    schema._migrate_v2(db)
    db.execute("PRAGMA user_version = 2")
    db.execute("INSERT INTO conversations (id, title, created, updated) VALUES ('abcd1234', 'old', 1, 2)")
    db.execute("INSERT INTO messages (conversation_id, role, content, created) VALUES ('abcd1234', 'user', 'q', 1)")
    db.close()
    with Store.open(path, pytest.fail) as store:
        info = store.info("abcd1234")
        assert (info.role, info.extra, info.message_count) == (None, {}, 1)
        store.set_role("abcd1234", "code")
        store.set_extra("abcd1234", "provider_state.zhipu", {"conversation_id": "c-1"})
        store.set_extra("abcd1234", "other", 1)
        store.set_extra("abcd1234", "other", None)
        info = store.info("abcd1234")
        assert info.role == "code" and info.extra == {"provider_state.zhipu": {"conversation_id": "c-1"}}
    check = sqlite3.connect(path)
    assert check.execute("PRAGMA user_version").fetchone() == (len(schema.MIGRATIONS),) == (3,)
    check.close()


class StatefulFake(FakeProvider):
    """A provider that keeps per-conversation state, as a Zhipu assistant keeps its conversation_id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kept: dict[str, Any] = {}
        self.restored: list[dict[str, Any]] = []

    def state(self) -> dict[str, Any]:
        return dict(self.kept)

    def restore(self, state: dict[str, Any]) -> None:
        self.restored.append(state)
        self.kept = dict(state)


def test_provider_state_is_saved_after_a_turn_and_restored_on_resume(tmp_path):
    cfg = preset_config(tmp_path)
    first = StatefulFake(cfg.provider("qwen")).enqueue("a1")
    session, _ = open_session(cfg, providers={"qwen": first})
    first.kept = {"conversation_id": "conv-42"}
    list(session.send("q1"))
    cid = session.conversation_id
    session.close()
    later = StatefulFake(cfg.provider("qwen")).enqueue("a2")
    session, info = open_session(cfg, resume="", providers={"qwen": later})
    try:
        assert info is not None and info.id == cid
        assert info.extra == {"provider_state.qwen": {"conversation_id": "conv-42"}}
        assert later.restored == [{}, {"conversation_id": "conv-42"}]  # made already: reset, then restored
        session.clear()  # a new conversation: the provider forgets
        assert later.restored[-1] == {} and later.state() == {}
    finally:
        session.close()
    plain, _ = open_session(cfg, resume="", providers={"qwen": FakeProvider(cfg.provider("qwen"))})
    plain.close()  # a provider without restore() is left alone


# --- the REPL -----------------------------------------------------------------------------------------

@pytest.fixture
def rig(tmp_path):
    cfg = preset_config(tmp_path)
    cfg.roles["su"] = Role("su", provider="zhipu", model="charglm-3", **PERSONA)
    made = ReplRig(cfg)
    yield made
    made.close()


def test_slash_role_switches_the_following_turns(rig):
    rig.qwen.enqueue("ls -la", "hello")
    rig.run("/role", "/role shell", "list files", "/role", "/role none", "hi", "/role nope")
    first, second = rig.qwen.requests
    assert first.messages[0].role == "system" and first.messages[0].content == BUILTIN_ROLES["shell"]["system"]
    assert first.tools is None  # the shell role offers no tools
    assert [m.role for m in second.messages] == ["user", "assistant", "user"]  # carried over, no role prompt
    said = rig.said()
    assert "role: none (shell, translate, code, su)" in said and "role: shell (" in said and "no role" in said
    assert rig.chat_lines()[-1] == "chat: unknown role 'nope' (known: shell, translate, code, su)"


def test_a_persona_names_the_prompt_and_the_answers(rig):
    rig.zhipu.enqueue("我们一起")
    rig.run("/role su", "请问你在做什么", "/history")
    request = rig.zhipu.requests[0]
    assert request.model == "charglm-3" and request.meta == PERSONA
    assert [m.role for m in request.messages] == ["user"]
    assert rig.prompt() == "zhipu:charglm-3 苏梦远> "
    assert "苏梦远" in rig.said() and "assistant" not in rig.said()
    assert "## 苏梦远" in rig.session.export_markdown()


def test_tab_completes_role_names(rig):
    from prompt_toolkit.completion import CompleteEvent
    from prompt_toolkit.document import Document

    from chatcli.repl.completer import SlashCompleter

    def offered(text: str) -> list[tuple[str, str]]:
        found = SlashCompleter(rig.repl).get_completions(Document(text), CompleteEvent(completion_requested=True))
        return [(c.text, c.display_meta_text) for c in found]

    assert offered("/role tr") == [("translate", "中英互译: Chinese <-> English, nothing else")]
    assert [text for text, _ in offered("/role ")] == ["shell", "translate", "code", "su", "none"]


def test_shell_completion_offers_role_names(tmp_path, monkeypatch, capsys):
    from chatcli.cli.app import cli as command
    from chatcli.cli.completion import complete

    config = tmp_path / "c.toml"
    config.write_text('[roles.translit]\nsystem = "x"\n', encoding="utf-8")
    for words in (f"chat --config {config} -r tr", f"chat --config {config} ask --role tr"):
        monkeypatch.setenv("_CHAT_COMPLETE", "bash_complete")
        monkeypatch.setenv("COMP_WORDS", words)
        monkeypatch.setenv("COMP_CWORD", str(len(words.split(" ")) - 1))
        assert complete(command) == 0
        assert [line.split(",", 1)[1] for line in capsys.readouterr().out.splitlines()] == ["translate", "translit"]


def test_a_resumed_role_keeps_its_tools_setting(tmp_path):
    cfg = preset_config(tmp_path)
    fake = FakeProvider(cfg.provider("qwen")).enqueue("a")
    session, _ = open_session(cfg, role="code", providers={"qwen": fake})
    assert not session.tools_on
    list(session.send("q"))
    session.close()
    session, info = open_session(cfg, resume="", providers={"qwen": fake})
    try:
        assert info is not None and info.role == "code" and session.role is not None and not session.tools_on
    finally:
        session.close()


def test_a_roles_assistant_id_overrides_the_providers(tmp_path):
    cfg = preset_config(tmp_path)
    cfg.roles["helper"] = Role("helper", provider="zhipu", assistant_id="659e54b1b8006379b4b2abd6")
    session, _ = open_session(cfg, role="helper", save=False)
    try:
        assert session.provider_name == "zhipu" and session.provider_config.assistant_id == "659e54b1b8006379b4b2abd6"
        assert cfg.providers["zhipu"].assistant_id is None
    finally:
        session.close()


def test_a_provider_flag_keeps_the_roles_model_out(tmp_path):
    cfg = preset_config(tmp_path)
    cfg.roles["su"] = Role("su", provider="zhipu", model="charglm-3", **PERSONA)
    session, _ = open_session(cfg, role="su", provider="qwen", save=False)
    try:
        assert (session.provider_name, session.model) == ("qwen", "qwen-plus")
        assert session.system == persona_prompt(PERSONA)  # not CharacterGLM: the persona as a system prompt
    finally:
        session.close()


def test_a_role_flag_wins_over_the_continued_conversations(cli, server):
    server.queue(fs.dashscope_text(["one"]), fs.dashscope_text(["two"]))
    assert cli("ask", "-r", "poet", "first")[0] == 0
    assert cli("ask", "-c", "-r", "shell", "second")[0] == 0
    body = fs.completions(server)[-1].json
    assert messages(body)[0] == ("system", BUILTIN_ROLES["shell"]["system"]) and "temperature" not in body
    assert json.loads(cli("sessions", "list", "--json")[1])[0]["role"] == "shell"


def test_a_roles_assistant_keeps_its_conversation_across_chat_c(cli, server):
    from tests.fake_assistant import AssistantReply, AssistantService

    service = AssistantService(server)
    cli.config.write_text(cli.config.read_text(encoding="utf-8") + '\n[roles.helper]\nprovider = "zhipu"\n'
                          'assistant_id = "659e54b1b8006379b4b2abd6"\n', encoding="utf-8")
    service.queue(AssistantReply(["first"]), AssistantReply(["second"]))
    code, out, err = cli("ask", "-r", "helper", "hi")
    assert code == 0 and out == "first\n", err
    assert service.sent()["assistant_id"] == "659e54b1b8006379b4b2abd6" and service.sent().get("conversation_id") is None
    listed = json.loads(cli("sessions", "list", "--json")[1])[0]
    assert listed["role"] == "helper" and listed["extra"] == {"provider_state.zhipu": {"conversation_id": "conv-1"}}
    code, out, err = cli("ask", "-c", "again")
    assert code == 0 and out == "second\n", err
    assert service.sent()["conversation_id"] == "conv-1"
