"""Quota codes, url errors and request ids: through `chat ask`, and classify's table unit by unit."""

from __future__ import annotations

import json

import pytest

from chatcli.app.ask import result_json
from chatcli.core.conversation import Turn
from chatcli.errors import (
    AuthError,
    BadRequestError,
    ModelNotFoundError,
    ProviderError,
    QuotaError,
    RateLimitError,
)
from chatcli.providers.errmap import amend, classify, parse_error_body, request_id, upload_errors
from tests import fakeserver as fs
from tests.fake_dashscope import NativeService, native_error
from tests.fakeserver import completions
from tests.test_ask import one_line_error

FREE_TIER = {"code": "AllocationQuota.FreeTierOnly", "message": "The free tier of the model has been exhausted.",
             "request_id": "rid-free"}


# --- through the program --------------------------------------------------------------------------

def test_allocation_quota_is_quota_not_rate_limit(chat, server):
    server.queue(fs.dashscope_error("Throttling.AllocationQuota", headers={"Retry-After": "0"}),
                 fs.dashscope_text(["must not be asked for"]))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 4, proc.stderr
    line = one_line_error(proc, "quota used up", "Throttling.AllocationQuota", "HTTP 429")
    assert "rate limited" not in line and "retrying" not in proc.stderr
    assert line.endswith("(request_id fake-request-id)")
    assert len(completions(server)) == 1


def test_free_tier_only_is_quota_with_its_hint(chat, server):
    server.queue(fs.dashscope_error("AllocationQuota.FreeTierOnly"))
    proc = chat.run("ask", "hi")
    assert proc.returncode == 4, proc.stderr
    line = one_line_error(proc, "free tier of model 'qwen-plus' is used up", "DashScope console", "HTTP 403")
    assert "DASHSCOPE_API_KEY" not in line and "access denied" not in line
    assert len(completions(server)) == 1


def test_request_id_from_the_header_in_the_line_and_in_json(chat, server):
    server.queue(fs.dashscope_error("invalid_api_key", request_id="", headers={"X-Request-Id": "hdr-7f3a"}))
    proc = chat.run("ask", "--json", "hi")
    assert proc.returncode == 3
    line = one_line_error(proc, "authentication failed", "DASHSCOPE_API_KEY")
    assert line.endswith("; check DASHSCOPE_API_KEY (request_id hdr-7f3a)")
    error = json.loads(proc.stdout)["error"]
    assert error["request_id"] == "hdr-7f3a" and error["exit_code"] == 3


def test_native_request_id_in_json(chat, server):
    with chat.config.open("a") as f:
        f.write(f'\n[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    native = NativeService(server)
    native.queue(native_error("Throttling.AllocationQuota", request_id="5d1c-native"))
    proc = chat.run("ask", "-p", "dashscope", "--json", "hi")
    assert proc.returncode == 4, proc.stderr
    one_line_error(proc, "quota used up", "(request_id 5d1c-native)")
    assert json.loads(proc.stdout)["error"]["request_id"] == "5d1c-native"
    assert len(native.requests) == 1


def test_no_request_id_leaves_the_line_as_it_was(chat, server):
    server.queue(fs.zhipu_error("1113"))
    proc = chat.run("ask", "-p", "zhipu", "--json", "hi")
    line = one_line_error(proc, "arrears", "1113")
    assert "request_id" not in line and json.loads(proc.stdout)["error"]["request_id"] is None


def _stream_then_error(chunk: dict, error: dict, request_id: str) -> fs.Reply:
    body = f"data: {json.dumps(chunk)}\n\ndata: {json.dumps(error)}\n\n".encode()
    return fs.raw(200, body, {"Content-Type": "text/event-stream", "X-Request-Id": request_id})


@pytest.mark.parametrize("provider", ["qwen", "zhipu"])
def test_midstream_error_carries_the_stream_header_id(chat, server, provider):
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "partial"}, "finish_reason": None}]}
    error = {"error": {"code": "data_inspection_failed", "message": "Output data may contain inappropriate content."}}
    server.queue(_stream_then_error(chunk, error, f"mid-{provider}"))
    proc = chat.run("ask", "-p", provider, "hi")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].endswith(f"(request_id mid-{provider})")


# --- classify's table -------------------------------------------------------------------------------

def test_allocation_quota_classified_as_quota() -> None:
    err = classify("dashscope", 429, {"code": "Throttling.AllocationQuota", "message": "Allocated quota exceeded"})
    assert type(err) is QuotaError and not err.retryable and err.exit_code == 4


def test_rate_quota_still_a_rate_limit() -> None:
    err = classify("dashscope", 429, {"code": "Throttling.RateQuota", "message": "slow down"})
    assert type(err) is RateLimitError and err.retryable


def test_free_tier_only_is_quota_not_auth() -> None:
    err = classify("dashscope", 403, FREE_TIER, key_env="DASHSCOPE_API_KEY", model="qwen3-max")
    assert type(err) is QuotaError and err.exit_code == 4
    assert "the free tier of model 'qwen3-max' is used up" in err.message
    assert "enable paid use" in err.message and "DASHSCOPE_API_KEY" not in err.message
    assert err.request_id == "rid-free" and err.message.endswith("(request_id rid-free)")


def test_free_tier_as_compatible_mode_type() -> None:
    body = parse_error_body({"error": {"type": "AllocationQuota.FreeTierOnly", "code": "AllocationQuota.FreeTierOnly",
                                       "message": "free tier exhausted"}, "request_id": "r9"})
    assert type(classify("qwen", 403, body)) is QuotaError


def test_other_403_still_auth() -> None:
    err = classify("qwen", 403, {"code": "AccessDenied", "message": "no"}, key_env="DASHSCOPE_API_KEY")
    assert type(err) is AuthError and "check DASHSCOPE_API_KEY" in err.message


@pytest.mark.parametrize("status", [400, None])
def test_url_error_names_the_model_endpoint_mismatch(status) -> None:
    error = {"code": "InvalidParameter", "message": "url error, please check url！", "request_id": "req-url"}
    err = classify("dashscope", status, error, model="qwen-vl-max")
    assert type(err) is BadRequestError and err.code == "InvalidParameter"
    assert "model 'qwen-vl-max' is not served on this endpoint" in err.message and "url error" in err.message


def test_other_invalid_parameter_is_a_plain_rejection() -> None:
    err = classify("dashscope", 400, {"code": "InvalidParameter", "message": "temperature out of range"})
    assert type(err) is BadRequestError and "not served" not in err.message


def test_model_not_found_unchanged() -> None:
    err = classify("qwen", 404, {"code": "model_not_found", "message": "nope"}, model="qwen-x")
    assert type(err) is ModelNotFoundError and err.request_id is None and "request_id" not in err.message


# --- request ids --------------------------------------------------------------------------------------

def test_parse_error_body_carries_the_outer_request_id() -> None:
    assert parse_error_body({"error": {"code": "x"}, "request_id": "r1"})["request_id"] == "r1"
    assert parse_error_body({"error": {"code": "1113"}, "id": "z1"})["request_id"] == "z1"  # Zhipu
    assert parse_error_body('data: {"error": {"code": "x"}, "request_id": "r2"}')["request_id"] == "r2"
    native = parse_error_body({"code": "InvalidApiKey", "message": "m", "request_id": "r3"})
    assert native == {"code": "InvalidApiKey", "message": "m", "request_id": "r3"}
    assert parse_error_body({"error": {"code": "x", "request_id": "inner"}, "request_id": "outer"})["request_id"] == "inner"
    assert "request_id" not in parse_error_body({"code": "x", "id": "a completion id?"})


@pytest.mark.parametrize("name", ["x-request-id", "X-Request-Id", "x-dashscope-request-id", "request-id"])
def test_request_id_from_headers(name) -> None:
    assert request_id({}, {name: "h1"}) == "h1"


def test_body_request_id_wins_over_header() -> None:
    assert request_id({"request_id": "body"}, {"x-request-id": "header"}) == "body"
    assert request_id({}, None) is None and request_id({"request_id": ""}, {}) is None


def test_request_id_is_redacted_and_one_line() -> None:
    err = classify("qwen", 401, {"code": "invalid_api_key", "message": "bad",
                                 "request_id": "sk-leaked-key-0123456789\nnext"}, secret="sk-leaked-key-0123456789")
    assert err.request_id == "**** next" and "sk-leaked" not in err.message
    header = classify("qwen", 500, {}, headers={"x-request-id": "sk-leaked-key-0123456789"})
    assert header.request_id == "****"


def test_provider_error_constructor_stays_compatible() -> None:
    assert ProviderError("m").request_id is None
    assert ProviderError("m", provider="p", status=500, code="c", retry_after=1.0, request_id="r").request_id == "r"


def test_amend_keeps_the_request_id_last() -> None:
    err = classify("qwen", 400, {"code": "x", "message": "m", "request_id": "r1"})
    amend(err, "; try --stream")
    assert err.message.endswith("m; try --stream (request_id r1)") and str(err) == err.message
    plain = classify("qwen", 400, {"code": "x", "message": "m"})
    amend(plain, "; hint")
    assert plain.message.endswith("m; hint")


def test_upload_errors_keep_the_request_id() -> None:
    with pytest.raises(QuotaError) as info, upload_errors("qwen", "a.pdf"):
        raise classify("qwen", 429, {"code": "Throttling.AllocationQuota", "message": "spent", "request_id": "u1"})
    assert info.value.request_id == "u1" and info.value.message.endswith("(uploading a.pdf) (request_id u1)")
    with pytest.raises(BadRequestError) as info2, upload_errors("qwen", "a.pdf"):
        raise classify("qwen", 404, {"message": "not here", "request_id": "u2"})
    assert info2.value.request_id == "u2" and "no files API" in info2.value.message


def test_result_json_error_has_the_request_id() -> None:
    err = classify("qwen", 429, {"code": "Throttling.AllocationQuota", "message": "m", "request_id": "j1"})
    assert result_json("qwen", "m", Turn(), err)["error"]["request_id"] == "j1"
    assert result_json("qwen", "m", Turn(), ProviderError("x"))["error"]["request_id"] is None


# --- transport failures: one line that says what to check ------------------------------------------------

@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("provider", ["qwen", "zhipu", "dashscope"])
def test_connection_refused_in_process_is_one_line(chat, server, monkeypatch, closed_port, provider):
    """Through the real adapters and SDKs: the final error and each retry notice are single lines."""
    from chatcli.config import load_config
    from chatcli.core.messages import ChatRequest, Message
    from chatcli.errors import NetworkError
    from chatcli.providers import retry
    from chatcli.providers.registry import create_provider

    for name in ("DASHSCOPE_API_KEY", "ZHIPUAI_API_KEY"):
        monkeypatch.setenv(name, chat.env[name])
    monkeypatch.setattr(retry, "BACKOFF_BASE", 0.0)  # no waiting between the attempts
    with chat.config.open("a") as f:
        f.write(f'\n[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    chat.config.write_text(chat.config.read_text().replace(server.url, f"http://127.0.0.1:{closed_port}"))
    cfg = load_config(str(chat.config))
    notices: list[str] = []
    adapter = create_provider(cfg.provider(provider), notify=notices.append)
    with pytest.raises(NetworkError) as info:
        list(adapter.stream(ChatRequest([Message("user", "hi")], cfg.provider(provider).model)))
    expected = (f"{provider}: cannot connect to 127.0.0.1:{closed_port} (connection refused); "
                f"check your network or providers.{provider}.base_url")
    assert info.value.message == expected and info.value.exit_code == 5
    assert notices == [f"{provider}: retrying in 0.0 s ({n}/2): {expected.removeprefix(provider + ': ')}"
                       for n in (1, 2)]


def _chained(outer: BaseException, *causes: BaseException) -> BaseException:
    """outer raised from causes[0], raised from causes[1]... as httpx and the SDKs chain them."""
    inner = outer
    for cause in causes:
        inner.__cause__ = cause
        inner = cause
    return outer


@pytest.mark.parametrize("root, reason", [
    (__import__("socket").gaierror(-2, "Name or service not known"), "host not found"),
    (__import__("socket").gaierror(-3, "Temporary failure in name resolution"), "name lookup failed"),
    (ConnectionRefusedError(111, "Connection refused"), "connection refused"),
    (OSError(101, "Network is unreachable"), "network unreachable"),
    (OSError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate (_ssl.c:1006)"),
     "TLS certificate not trusted: self-signed certificate"),
    (OSError("something\nspread over\n\nlines"), "something spread over lines"),
])
def test_network_error_names_the_root_reason(root, reason):
    import httpx

    from chatcli.providers.errmap import network_error

    exc = _chained(RuntimeError("Connection error."), httpx.ConnectError("multi\nline"), root)
    err = network_error("zhipu", "https://user:pw@open.bigmodel.cn/api/paas/v4", exc, mid_stream=False)
    assert err.message == (f"zhipu: cannot connect to open.bigmodel.cn ({reason}); "
                           "check your network or providers.zhipu.base_url")
    assert err.retryable and "pw" not in err.message


def test_network_error_timeout_and_mid_stream():
    import httpx

    from chatcli.providers.errmap import network_error

    timeout = network_error("qwen", "http://[::1]:8080/v1", httpx.ReadTimeout("timed out"), mid_stream=False)
    assert timeout.message == "qwen: request to [::1]:8080 timed out; check your network or providers.qwen.timeout"
    cut = network_error("qwen", "http://h/v1", httpx.RemoteProtocolError("peer closed"), mid_stream=True)
    assert cut.message == "qwen: the answer stopped: connection lost mid-stream" and not cut.retryable


def test_retry_notice_puts_the_retry_first():
    from chatcli.providers.retry import retry_notice

    err = RateLimitError("qwen: rate limited (HTTP 429)", provider="qwen", status=429)
    assert retry_notice(err, 0.55, 1) == "qwen: retrying in 0.6 s (1/2): rate limited (HTTP 429)"
    assert retry_notice(RateLimitError("odd message"), 2, 2) == "retrying in 2.0 s (2/2): odd message"


# --- which errors /retry can help ---------------------------------------------------------------------------

def test_retry_hint_only_where_asking_again_can_help():
    from chatcli.errors import (
        BadResponseError,
        ChatError,
        ConfigError,
        ContentFilterError,
        Interrupted,
        NetworkError,
        ServerError,
        UsageError,
    )
    from chatcli.ui.hints import retry_hint

    again = [NetworkError("n"), RateLimitError("r"), ServerError("s"), BadResponseError("b"), Interrupted(),
             ContentFilterError("stopped mid-answer"), ChatError("the answer is not valid JSON")]
    same = [AuthError("no key"), AuthError("rejected", status=401), ConfigError("c"), UsageError("u"),
            BadRequestError("b", status=400), ModelNotFoundError("m", status=404), QuotaError("q", status=429),
            ContentFilterError("the question refused", status=400)]
    assert [retry_hint(e) for e in again] == [" — /retry to try again"] * len(again)
    assert [retry_hint(e) for e in same] == [""] * len(same)
    missing_key = classify("qwen", 401, {"code": "invalid_api_key", "message": "bad"}, key_env="DASHSCOPE_API_KEY")
    assert retry_hint(missing_key) == ""
