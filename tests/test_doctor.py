"""`chat doctor` through the real program, against the loopback FakeServer (and a recording proxy)."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from tests.conftest import DASHSCOPE_KEY, ZHIPU_KEY
from tests.fakeserver import FakeServer, completions, dashscope_error, dashscope_text, zhipu_text
from tests.test_transport import RecordingProxy, tls_server  # noqa: F401 (tls_server: a fixture used here)

CHECKS = ["config", "key", "route", "dns", "tcp", "tls", "http", "clock", "answer"]
LITERAL_KEY = "sk-literal-in-config-0123456789"


def lines(stdout: str, provider: str) -> dict[str, tuple[str, str]]:
    """check -> (status, detail) for one provider's lines."""
    found = {}
    for line in stdout.splitlines():
        m = re.match(rf"{re.escape(provider)}\s+(\w+)\s+(ok|FAIL|warn|skip)\s*(.*)$", line)
        if m:
            found[m.group(1)] = (m.group(2), m.group(3))
    return found


def answers(server: FakeServer) -> None:
    server.route("/compatible-mode/v1/chat/completions", lambda req: dashscope_text(["O"]))
    server.route("/api/paas/v4/chat/completions", lambda req: zhipu_text(["O"]))
    server.route("/v1/chat/completions", lambda req: dashscope_text(["O"]))


def add(chat: Any, text: str) -> None:
    chat.config.write_text(chat.config.read_text() + "\n" + text, encoding="utf-8")


def test_quick(chat: Any, server: FakeServer) -> None:
    result = chat.run("doctor", "--quick")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"config: {chat.config}\n" in result.stdout
    assert "not checked (not in the config file; name one with -p): qwen-intl, dashscope, openai, ollama" in result.stdout
    for name in ("qwen", "zhipu", "local"):
        found = lines(result.stdout, name)
        assert list(found) == CHECKS, result.stdout
        assert found["answer"] == ("skip", "--quick")
        assert found["tls"] == ("skip", "http:// base_url: no TLS")
        assert found["http"][0] == "ok" and "HTTP 404" in found["http"][1]
        assert found["clock"] == ("ok", "local clock in step with the server's Date header")
        assert found["route"] == ("ok", "direct (no proxy set)")
    assert lines(result.stdout, "qwen")["key"] == ("ok", "from DASHSCOPE_API_KEY")
    assert lines(result.stdout, "zhipu")["key"] == ("ok", "from ZHIPUAI_API_KEY")
    assert lines(result.stdout, "local")["key"] == ("ok", "none needed")
    assert re.search(r"qwen\s+config\s+ok\s+\[providers.qwen\] at .*config.toml:3; kind openai, model qwen-plus",
                     result.stdout)
    assert result.stdout.rstrip().endswith("all checks passed")
    assert completions(server) == []  # --quick asks no model
    assert DASHSCOPE_KEY not in result.stdout + result.stderr and ZHIPU_KEY not in result.stdout + result.stderr


def test_full_asks_each_model_for_one_token(chat: Any, server: FakeServer) -> None:
    answers(server)
    add(chat, f'[providers.lit]\nkind = "openai"\nbase_url = "{server.url}/v1"\nmodel = "m"\napi_key = "{LITERAL_KEY}"\n')
    result = chat.run("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for name, model in (("qwen", "qwen-plus"), ("zhipu", "glm-4-plus"), ("local", "llama-test"), ("lit", "m")):
        status, detail = lines(result.stdout, name)["answer"]
        assert status == "ok" and detail.startswith(f"{model} answered in "), result.stdout
    sent = completions(server)
    assert len(sent) == 4
    assert all(r.json["max_tokens"] == 1 for r in sent)
    assert lines(result.stdout, "lit")["key"] == ("ok", "from api_key in [providers.lit]")
    everything = result.stdout + result.stderr
    for key in (DASHSCOPE_KEY, ZHIPU_KEY, LITERAL_KEY):
        assert key not in everything


def test_a_refused_answer_is_a_failing_line(chat: Any, server: FakeServer) -> None:
    server.route("/compatible-mode/v1/chat/completions", lambda req: dashscope_error("invalid_api_key"))
    result = chat.run("doctor", "-p", "qwen")
    assert result.returncode == 1
    status, detail = lines(result.stdout, "qwen")["answer"]
    assert status == "FAIL" and detail.startswith("qwen: "), result.stdout
    assert "DASHSCOPE_API_KEY" in detail or "key" in detail.lower(), detail
    assert server.errors == []
    assert "not checked" not in result.stdout and lines(result.stdout, "zhipu") == {}
    assert result.stdout.rstrip().endswith("1 failed: qwen answer")
    assert DASHSCOPE_KEY not in result.stdout + result.stderr


def test_unreachable_provider_fails_quickly(chat: Any) -> None:
    add(chat, '[providers.dead]\nkind = "openai"\nbase_url = "http://127.0.0.1:1/v1"\nmodel = "m"\napi_key_env = ""\n')
    started = time.monotonic()
    result = chat.run("doctor", "-p", "dead")
    assert time.monotonic() - started < 20  # the step timeouts, not the 120 s request timeout (slow CI allowed)
    assert result.returncode == 1
    found = lines(result.stdout, "dead")
    assert found["tcp"][0] == "FAIL" and "127.0.0.1:1" in found["tcp"][1], result.stdout
    assert found["http"] == ("skip", "not reachable")
    assert found["answer"] == ("skip", "the server is not reachable")
    assert "1 failed: dead tcp" in result.stdout


def test_missing_key(chat: Any) -> None:
    del chat.env["ZHIPUAI_API_KEY"]
    result = chat.run("doctor", "--quick", "-p", "zhipu")
    assert result.returncode == 1
    status, detail = lines(result.stdout, "zhipu")["key"]
    assert status == "FAIL" and "set ZHIPUAI_API_KEY or api_key_cmd" in detail


def test_key_from_command_is_never_shown(chat: Any, server: FakeServer) -> None:
    answers(server)
    add(chat, f'[providers.cmd]\nkind = "openai"\nbase_url = "{server.url}/v1"\nmodel = "m"\n'
              'api_key_cmd = "echo sk-from-the-command-0123456789"\n')
    result = chat.run("doctor", "-p", "cmd")
    assert result.returncode == 0, result.stdout
    assert lines(result.stdout, "cmd")["key"] == ("ok", "from api_key_cmd")
    assert "sk-from-the-command-0123456789" not in result.stdout + result.stderr
    assert completions(server)[0].headers["authorization"] == "Bearer sk-from-the-command-0123456789"


def test_proxy_in_effect_is_named_and_used(chat: Any, server: FakeServer) -> None:
    with RecordingProxy() as proxy:
        add(chat, f'[providers.via]\nkind = "openai"\nbase_url = "{server.url}/v1"\nmodel = "m"\napi_key_env = ""\n'
                  f'proxy = "{proxy.url}"\n')
        result = chat.run("doctor", "--quick", "-p", "via")
        assert result.returncode == 0, result.stdout
        found = lines(result.stdout, "via")
        assert found["route"] == ("ok", f"through proxy {proxy.url} (proxy in config)")
        port = proxy.url.rsplit(":", 1)[1]
        assert found["dns"][1].startswith("the proxy 127.0.0.1 -> 127.0.0.1")
        assert found["tcp"][1].startswith(f"the proxy 127.0.0.1:{port}")
        assert [(m, u) for m, u, _h in proxy.requests] == [("GET", f"{server.url}/v1")]


def test_empty_proxy_ignores_the_environment(chat: Any, server: FakeServer) -> None:
    chat.env.pop("NO_PROXY", None)
    chat.env["HTTP_PROXY"] = chat.env["HTTPS_PROXY"] = "http://127.0.0.1:1"
    add(chat, f'[providers.direct]\nkind = "openai"\nbase_url = "{server.url}/v1"\nmodel = "m"\napi_key_env = ""\n'
              'proxy = ""\n')
    result = chat.run("doctor", "--quick", "-p", "direct", "-p", "local")
    assert lines(result.stdout, "direct")["route"] == ("ok", 'direct (proxy = "" in config)')
    assert lines(result.stdout, "direct")["http"][0] == "ok"
    assert lines(result.stdout, "local")["route"] == ("ok", "through proxy http://127.0.0.1:1 (HTTP_PROXY)")
    assert lines(result.stdout, "local")["tcp"][0] == "FAIL"
    assert result.returncode == 1


def test_tls_with_and_without_the_ca_bundle(chat: Any, request: pytest.FixtureRequest) -> None:
    url, cert = request.getfixturevalue("tls_server")
    add(chat, f'[providers.corp]\nkind = "openai"\nbase_url = "{url}/v1"\nmodel = "m"\napi_key_env = ""\n'
              f'ca_bundle = "{cert}"\n\n[providers.plain]\nkind = "openai"\nbase_url = "{url}/v1"\nmodel = "m"\n'
              'api_key_env = ""\n')
    result = chat.run("doctor", "--quick", "-p", "corp", "-p", "plain")
    corp, plain = lines(result.stdout, "corp"), lines(result.stdout, "plain")
    assert corp["tls"][0] == "ok" and corp["tls"][1].endswith(f"issued by chatcli test CA (ca_bundle {cert})")
    assert corp["http"][0] == "ok" and "HTTP 200" in corp["http"][1]
    assert plain["tls"][0] == "FAIL" and "certificate not trusted" in plain["tls"][1]
    assert "set ca_bundle" in plain["tls"][1]
    assert result.returncode == 1 and result.stdout.rstrip().endswith("1 failed: plain tls")


def test_unknown_provider_is_a_usage_error(chat: Any) -> None:
    result = chat.run("doctor", "-p", "nope")
    assert result.returncode == 2
    assert "unknown provider 'nope'" in result.stderr


@pytest.mark.parametrize("args", [["doctor", "--help"], ["--help"]])
def test_help(chat: Any, args: list[str]) -> None:
    result = chat.run(*args)
    assert result.returncode == 0
    assert "doctor" in result.stdout


def test_clock_judgement() -> None:
    from chatcli.cli.doctor import clock

    assert clock(0) == ("ok", "local clock in step with the server's Date header")
    assert clock(-1)[0] == "ok"
    assert clock(5) == ("ok", "local clock 5 s ahead of the server's Date header")
    assert clock(-45)[0] == "warn" and "45 s behind" in clock(-45)[1]
    assert clock(600)[0] == "FAIL" and "set the clock" in clock(600)[1]
