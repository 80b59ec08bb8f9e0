"""MCP servers as tools: a real stdio server (tests/mcp_server.py), the session in-process with a fake model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chatcli.app.session import ChatSession
from chatcli.config import load_config
from chatcli.core.messages import ToolResult
from chatcli.errors import ConfigError
from chatcli.tools.mcp_names import MAX_RESULT, allowed, clean_schema, wire_name
from tests import fakeserver as fs
from tests.fakeprovider import fake_for, tool_reply
from tests.fakeserver import completions

SERVER = Path(__file__).with_name("mcp_server.py")


def server_table(name: str = "t", extra: str = "", *args: str) -> str:
    argv = json.dumps([str(SERVER), *args])
    return f'[mcp.servers.{name}]\ncommand = {json.dumps(sys.executable)}\nargs = {argv}\n{extra}\n'


def make_session(tmp_path: Path, tables: str, asker=None, **consent):
    path = tmp_path / "config.toml"
    path.write_text(f"{tables}\n[store]\nenabled = false\n", encoding="utf-8")
    cfg = load_config(str(path))
    fake = fake_for(cfg)
    notices: list[str] = []
    session = ChatSession(cfg, providers={"qwen": fake}, notify=notices.append)
    c = session.tool_host.consent
    c.asker = asker
    for key, value in consent.items():
        setattr(c, key, value)
    return session, fake, notices


def turn(session, fake, *calls):
    fake.enqueue(tool_reply(*calls), "ok")
    results = [e for e in session.send("go") if isinstance(e, ToolResult)]
    return {r.call.name: r for r in results}


# --- names, schemas, globs: no server needed -------------------------------------------------


def test_wire_names_are_sanitised_and_unique():
    assert wire_name("fs", "read_file") == "fs__read_file"
    assert wire_name("fs", "read.file v2") == "fs__read_file_v2"
    long = wire_name("t", "x" * 100)
    assert len(long) == 64 and long.startswith("t__xxx")
    taken = {"fs__read_file"}
    other = wire_name("fs", "read-file".replace("-", "_"), taken)
    assert other != "fs__read_file" and len(other) <= 64
    import re
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", n) for n in (long, other, wire_name("ü", "ä")))


def test_allow_and_deny_globs():
    assert allowed("read_x", ["read_*"], [])
    assert not allowed("write_x", ["read_*"], [])
    assert not allowed("read_secret", ["read_*"], ["*secret*"])  # deny wins
    assert allowed("anything", None, ["write_*"])


def test_schema_cleaning_keeps_what_calls_need():
    schema = {"$schema": "x", "type": "object", "title": "Args", "additionalProperties": False,
              "properties": {"title": {"type": "string", "format": "uri", "default": "a"},
                             "m": {"type": "object", "additionalProperties": {"type": "string"}}},
              "required": ["title"]}
    cleaned = clean_schema(schema)
    assert cleaned == {"type": "object", "additionalProperties": False,
                       "properties": {"title": {"type": "string", "default": "a"}, "m": {"type": "object"}},
                       "required": ["title"]}
    assert clean_schema(None) == {"type": "object", "properties": {}}


@pytest.mark.parametrize("table, message", [
    ('[mcp.servers.x]\nargs = ["a"]\n', "needs either command"),
    ('[mcp.servers.x]\ncommand = "a"\napprove = "maybe"\n', "approve must be one of: ask, always, never"),
    ('[mcp.servers.x]\ncommand = "a"\ntimout = 3\n', "unknown key 'timout'"),
    ('[mcp.servers.x]\nurl = "ftp://a"\n', "must be an http:// or https:// URL"),
    ('[mcp]\nservers = 3\n', "mcp.servers must be a table"),
])
def test_bad_mcp_config_names_file_and_line(tmp_path, table, message):
    path = tmp_path / "config.toml"
    path.write_text("# top\n" + table, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    assert message in err.value.message and f"{path}:" in err.value.message


def test_claude_desktop_import(tmp_path):
    (tmp_path / "claude.json").write_text(json.dumps(
        {"mcpServers": {"fs": {"command": "npx", "args": ["-y", "server"], "env": {"A": "1"}}}}))
    path = tmp_path / "config.toml"
    path.write_text('[mcp]\nimport = "claude.json"\n[mcp.servers.web]\nurl = "https://e.com/mcp"\n')
    servers = load_config(str(path)).mcp.servers
    assert servers["fs"].command == "npx" and servers["fs"].env == {"A": "1"}
    assert servers["web"].url == "https://e.com/mcp" and servers["web"].approve == "ask"


# --- a real server, the session in-process ------------------------------------------------------


def test_tools_offered_called_and_mapped_back(tmp_path):
    session, fake, notices = make_session(tmp_path, server_table(extra='approve = "always"'))
    try:
        got = turn(session, fake, ("1", "t__echo", '{"text": "hi"}'), ("2", "t__odd", '{"when": "now"}'),
                   ("3", "t__picture", "{}"), ("4", "t__env_names", "{}"))
        offered = {t["function"]["name"]: t["function"] for t in fake.requests[0].tools}
        assert {"get_current_time", "t__echo", "t__slow", "t__odd"} <= set(offered)
        long = [n for n in offered if n.startswith("t__a_tool_with")]
        assert len(long) == 1 and len(long[0]) <= 64
        assert "$schema" not in json.dumps(offered["t__odd"]) and "format" not in offered["t__odd"]["parameters"]
        assert got["t__echo"].ok and got["t__echo"].content == "hi"
        assert got["t__odd"].content == "now"
        assert "[image: image/png, 5 bytes, not shown]" in got["t__picture"].content
        assert got["t__env_names"].content.split() == [k for k in ("HOME", "LANG", "PATH") if k in os.environ]
        assert notices == []
    finally:
        session.close()


def test_errors_long_output_and_allow_deny(tmp_path):
    session, fake, _ = make_session(tmp_path, server_table(extra='approve = "always"\ndeny = ["slow", "crash"]'))
    try:
        got = turn(session, fake, ("1", "t__failing", "{}"), ("2", "t__big", "{}"))
        assert not got["t__failing"].ok and "it broke" in json.loads(got["t__failing"].content)["error"]
        assert got["t__big"].ok and len(got["t__big"].content) < MAX_RESULT + 100
        assert "[output cut: " in got["t__big"].content
        names = {t["function"]["name"] for t in fake.requests[0].tools}
        assert "t__slow" not in names and "t__crash" not in names and "t__echo" in names
    finally:
        session.close()


def test_timeout_then_restart_and_crash_mid_call(tmp_path):
    session, fake, _ = make_session(tmp_path, server_table(extra='approve = "always"\ntimeout = 1'))
    try:
        got = turn(session, fake, ("1", "t__slow", '{"seconds": 30}'))
        assert not got["t__slow"].ok and "timed out after 1 s" in got["t__slow"].content
        assert turn(session, fake, ("2", "t__echo", '{"text": "back"}'))["t__echo"].content == "back"
        crashed = turn(session, fake, ("3", "t__crash", "{}"))["t__crash"]
        assert not crashed.ok and "Connection closed" in crashed.content
        assert turn(session, fake, ("4", "t__echo", '{"text": "again"}'))["t__echo"].content == "again"
    finally:
        session.close()


def test_a_server_that_fails_to_start_is_one_warning(tmp_path):
    tables = server_table("bad", "", "--fail-start") + server_table("gone").replace(sys.executable, "no-such-cmd")
    session, fake, notices = make_session(tmp_path, tables)
    try:
        fake.enqueue("fine")
        list(session.send("hi"))
        fake.enqueue("still fine")
        list(session.send("again"))
        assert len(notices) == 2, notices
        assert any("bad" in n and "cannot start: no database" in n for n in notices)
        assert any("gone" in n and "cannot run no-such-cmd" in n for n in notices)
        assert [t["function"]["name"] for t in fake.requests[0].tools] == ["get_current_time", "get_current_weather"]
    finally:
        session.close()


def test_approval_yes_always_no_tell(tmp_path):
    answers = [("y", ""), ("a", ""), ("n", ""), ("t", "too risky")]
    asked = []

    def asker(tool, call):
        asked.append((tool.remote_name, call.arguments))
        return answers.pop(0)

    session, fake, _ = make_session(tmp_path, server_table(), asker=asker)
    try:
        assert turn(session, fake, ("1", "t__echo", '{"text": "a"}'))["t__echo"].ok  # y
        assert turn(session, fake, ("2", "t__echo", '{"text": "b"}'))["t__echo"].ok  # a
        assert turn(session, fake, ("3", "t__echo", '{"text": "c"}'))["t__echo"].ok  # not asked again
        assert len(asked) == 2
        refused = turn(session, fake, ("4", "t__odd", '{"when": "x"}'))["t__odd"]  # n
        assert not refused.ok and json.loads(refused.content) == {"error": "the user refused this call"}
        told = turn(session, fake, ("5", "t__odd", '{"when": "y"}'))["t__odd"]  # t
        assert json.loads(told.content)["error"] == "the user refused this call: too risky"
        tool_msgs = [m for m in fake.requests[-1].messages if m.role == "tool"]
        assert "too risky" in tool_msgs[-1].content  # the model hears it, and the answer goes on
        assert session.last.content == "ok"
        built_in = turn(session, fake, ("6", "get_current_time", '{"timezone": "UTC"}'))["get_current_time"]
        assert built_in.ok and len(asked) == 4  # built-ins never ask
    finally:
        session.close()


def test_no_asker_refuses_unless_approved(tmp_path):
    session, fake, _ = make_session(tmp_path, server_table() + server_table("n", 'approve = "never"'),
                                    globs=["t/echo"])
    try:
        got = turn(session, fake, ("1", "t__echo", '{"text": "a"}'), ("2", "t__odd", '{"when": "x"}'),
                   ("3", "n__echo", '{"text": "b"}'))
        assert got["t__echo"].ok
        assert "nobody to ask" in got["t__odd"].content
        assert "never to run" in got["n__echo"].content
        session.tool_host.consent.yes = True
        got = turn(session, fake, ("4", "t__odd", '{"when": "x"}'), ("5", "n__echo", '{"text": "b"}'))
        assert got["t__odd"].ok and not got["n__echo"].ok  # --yes does not overrule "never"
    finally:
        session.close()


def test_server_toggled_off(tmp_path):
    session, fake, _ = make_session(tmp_path, server_table(extra='approve = "always"'))
    try:
        session.tool_host.toggle("t", False)
        fake.enqueue("no tools")
        list(session.send("hi"))
        assert not any(t["function"]["name"].startswith("t__") for t in fake.requests[0].tools)
        statuses = session.tool_host.statuses()
        assert statuses[0].state == "connected" and len(statuses[0].tools) >= 8
    finally:
        session.close()


# --- the command line ----------------------------------------------------------------------------


@pytest.fixture
def mchat(chat, tmp_path):
    pidfile = tmp_path / "pids"
    text = chat.config.read_text() + "\n" + server_table("t", "", "--pidfile", str(pidfile))
    chat.config.write_text(text)
    chat.pidfile = pidfile  # type: ignore[attr-defined]
    return chat


def test_help_imports_no_mcp(mchat):
    code = "import sys; from chatcli.cli.main import run; from chatcli.ui.terminal import Terminal; " \
           "import io; run(['--help'], Terminal(out=io.StringIO())); print('mcp' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], env=mchat.env, capture_output=True, text=True)
    assert proc.stdout.strip().endswith("False"), proc.stderr


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_ask_without_terminal_refuses_then_approve_runs(mchat, server):
    server.queue(fs.dashscope_tool_calls([("c1", "t__echo", '{"text": "hello"}')]), fs.dashscope_text(["no luck"]))
    proc = mchat.run("ask", "--json", "say hello")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["tool_calls"][0]["ok"] is False and "nobody to ask" in data["tool_calls"][0]["result"]
    server.queue(fs.dashscope_tool_calls([("c2", "t__echo", '{"text": "hello"}')]), fs.dashscope_text(["said"]))
    proc = mchat.run("ask", "--json", "--approve", "t__ec*", "say hello", input="y\ny\n")
    data = json.loads(proc.stdout)
    assert data["tool_calls"][0] == {**data["tool_calls"][0], "ok": True, "result": "hello"}, proc.stderr
    tool_msg = [m for m in completions(server)[-1].json["messages"] if m["role"] == "tool"][-1]
    assert tool_msg["content"] == "hello"
    pids = [int(p) for p in mchat.pidfile.read_text().split()]
    assert len(pids) == 2 and not any(_alive(p) for p in pids)  # no orphan server


def test_bare_chat_with_piped_input_takes_approve_too(mchat, server):
    server.queue(fs.dashscope_tool_calls([("c1", "t__echo", '{"text": "hi"}')]), fs.dashscope_text(["said"]))
    proc = mchat.run("--approve", "t/echo", input="say hi")  # `echo ... | chat --approve ...`
    assert proc.returncode == 0, proc.stderr
    tool_msg = [m for m in completions(server)[-1].json["messages"] if m["role"] == "tool"][-1]
    assert tool_msg["content"] == "hi" and proc.stdout == "said\n"


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_leaves_no_server_behind(mchat, server, signum, code):
    server.queue(fs.dashscope_tool_calls([("c1", "t__slow", '{"seconds": 30}')]), fs.dashscope_text(["x"]))
    proc = subprocess.Popen([sys.executable, "-m", "chatcli", "ask", "--yes", "wait"], env=mchat.env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (mchat.pidfile.exists() and mchat.pidfile.read_text().strip()):
        time.sleep(0.1)
    time.sleep(1.0)  # the slow call is running
    proc.send_signal(signum)
    proc.wait(timeout=20)
    assert proc.returncode == code
    pid = int(mchat.pidfile.read_text().split()[0])
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def test_chat_tools_and_chat_mcp(chat, tmp_path):
    text = chat.config.read_text() + "\n" + server_table("t", 'deny = ["crash"]') \
        + server_table("bad", 'approve = "never"', "--fail-start") + '[mcp.servers.off]\ncommand = "x"\nenabled = false\n'
    chat.config.write_text(text)
    proc = chat.run("tools")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "get_current_weather" in out
    assert "mcp t: connected, 8 tools (1 left out by allow/deny); approve = ask" in out
    assert "    t__echo (~" in out and "tokens, asks first) — Say the text back." in out
    assert "mcp bad: failed: Connection closed (cannot start: no database); approve = never" in out
    assert "mcp off: disabled" in out
    listed = chat.run("mcp", "list")
    assert listed.stdout.splitlines()[0].startswith("t: not started; approve = ask;")
    tested = chat.run("mcp", "test", "bad")
    assert tested.returncode == 1 and "failed: Connection closed" in tested.stdout
    assert chat.run("mcp", "test", "nope").returncode == 2


def test_repl_tools_command(tmp_path):
    from tests.repl_harness import ReplRig

    path = tmp_path / "config.toml"
    path.write_text(server_table("t", 'approve = "always"') + "\n[store]\nenabled = false\n")
    rig = ReplRig(load_config(str(path)))
    try:
        rig.run("/tools", "/tools off t", "/tools off nope")
        said = rig.said()
        assert "tools on: get_current_time, get_current_weather" in said
        assert "mcp t: connected, 9 tools; approve = always" in said
        assert "tools of t off" in said
        assert "no MCP server 'nope' (known: t)" in rig.err.getvalue()
        rig.qwen.enqueue("hi")
        rig.run("hello")
        assert not any(t["function"]["name"].startswith("t__") for t in rig.qwen.requests[0].tools)
    finally:
        rig.close()


def test_ask_on_a_terminal_asks_on_stderr(mchat, server):
    import pexpect

    server.queue(fs.dashscope_tool_calls([("c1", "t__echo", '{"text": "one"}'), ("c2", "t__odd", '{"when": "2"}')]),
                 fs.dashscope_text(["fine"]))
    child = pexpect.spawn(sys.executable, ["-m", "chatcli", "ask", "go"], env=mchat.env, encoding="utf-8",
                          dimensions=(24, 120), timeout=20)
    child.expect(r'allow the tool t/echo \{"text": "one"\}\?')
    child.expect(r"\[y\]es / \[a\]lways this session / \[n\]o / \[t\]ell the model why: ")
    child.send("y\r")
    child.expect(r'allow the tool t/odd \{"when": "2"\}\?')
    child.expect("why")
    child.send("t\r")
    child.expect("sent to the model")
    child.send("not now\r")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before
    tools = [m for m in completions(server)[-1].json["messages"] if m["role"] == "tool"]
    assert tools[0]["content"] == "one"
    assert json.loads(tools[1]["content"]) == {"error": "the user refused this call: not now"}


def test_repl_asks_in_the_terminal(mchat, server, term):
    from tests.ptyharness import QWEN

    tty = term()
    tty.wait_prompt(QWEN)
    server.queue(fs.dashscope_tool_calls([("c1", "t__echo", '{"text": "one"}')]), fs.dashscope_text(["first"]),
                 fs.dashscope_tool_calls([("c2", "t__echo", '{"text": "two"}')]), fs.dashscope_text(["second"]))
    tty.send("go\r")
    tty.wait_text("[t]ell the model why:", timeout=30)
    tty.send("a\r")
    tty.wait_text("first")
    tty.wait_for(lambda: tty.cursor_line() == QWEN, what="the prompt again")
    tty.send("again\r")
    tty.wait_text("second")
    assert tty.count("allow the tool t/echo") == 1  # "always" for the session: not asked again
    tools = [m for m in completions(server)[-1].json["messages"] if m["role"] == "tool"]
    assert [t["content"] for t in tools] == ["one", "two"]


def test_streamable_http_server_with_a_header_from_the_environment(tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(SERVER), "--http", str(port)], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        monkeypatch.setenv("MCP_TEST_TOKEN", "test-token")
        table = (f'[mcp.servers.web]\nurl = "http://127.0.0.1:{port}/mcp"\napprove = "always"\n'
                 'headers = { Authorization = "Bearer ${MCP_TEST_TOKEN}" }\n'
                 f'[mcp.servers.nokey]\nurl = "http://127.0.0.1:{port}/mcp"\n'
                 'headers = { Authorization = "Bearer ${MCP_NO_SUCH_VAR}" }\n')
        session, fake, notices = make_session(tmp_path, table)
        try:
            assert turn(session, fake, ("1", "web__echo", '{"text": "over http"}'))["web__echo"].content == "over http"
            assert notices == ["MCP server nokey is not available: ${MCP_NO_SUCH_VAR} is not set"]
        finally:
            session.close()
    finally:
        proc.terminate()
        proc.wait(10)


def test_too_many_tools_are_cut_with_one_notice(tmp_path, monkeypatch):
    from chatcli.app import tool_host

    monkeypatch.setattr(tool_host, "MAX_TOOLS", 5)
    session, fake, notices = make_session(tmp_path, server_table(extra='approve = "always"'))
    try:
        fake.enqueue("a", "b")
        list(session.send("hi"))
        list(session.send("again"))
        assert len(fake.requests[0].tools) == 5 and len(fake.requests[1].tools) == 5
        assert notices == ["the MCP servers offer 9 tools; only the first 3 are offered (providers take at most 5): "
                           "narrow them with allow/deny"]
    finally:
        session.close()


def test_the_schemas_come_out_of_the_context_budget(tmp_path):
    session, fake, _ = make_session(tmp_path, server_table(extra='approve = "always"'))
    try:
        before = session.budget()
        fake.enqueue("a")
        list(session.send("hi"))
        assert 50 < session.tool_host.schema_tokens < 1000
        assert session.budget() == before - session.tool_host.schema_tokens
    finally:
        session.close()


def test_an_error_answer_does_not_restart_the_server(tmp_path):
    session, fake, _ = make_session(tmp_path, server_table(extra='approve = "always"'))
    try:
        server = session.tool_host.hub().servers["t"]
        turn(session, fake, ("1", "t__echo", '{"text": "a"}'))
        first = server.session
        got = turn(session, fake, ("2", "t__echo", '{"text": 5}'))  # the registry refuses a wrong type itself
        assert "must be of type string" in got["t__echo"].content
        hub = session.tool_host.hub()
        answer = hub._caller(server, "no_such_tool")()  # the server answers with an error
        assert "error" in answer and not server.broken and server.session is first
    finally:
        session.close()
