"""chatcli.providers.transport and its config keys: proxy, ca_bundle, workspace, data_inspection.

The clients are checked against the loopback FakeServer, directly and through a recording HTTP
proxy (absolute-form requests, forwarded as they came): `proxy = URL` goes through it, `proxy = ""`
ignores HTTP(S)_PROXY/ALL_PROXY, and no setting leaves the environment in charge.
"""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from chatcli.config.loading import build, toml_module
from chatcli.config.model import ProviderConfig, WeatherSettings
from chatcli.config.secrets import without_password
from chatcli.errors import ConfigError
from chatcli.providers import transport
from tests.fakeserver import FakeServer, completions, dashscope_text, json_reply, zhipu_text

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
              "no_proxy")


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.server.record.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        target = urlsplit(self.path)
        if not target.scheme:  # origin-form: a client that took us for the server
            self.send_error(400, "absolute-form only")
            return
        upstream = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=10)
        path = target.path + (f"?{target.query}" if target.query else "")
        hop = {"proxy-connection", "connection", "keep-alive", "proxy-authorization"}
        upstream.request(self.command, path, body, {k: v for k, v in self.headers.items() if k.lower() not in hop})
        response = upstream.getresponse()
        data = response.read()  # whole: events arrive at once, which is all these tests need
        self.send_response(response.status)
        for k, v in response.getheaders():
            if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = _forward


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    record: list[tuple[str, str, dict[str, str]]]


class RecordingProxy:
    """An HTTP proxy on loopback that records each request (method, absolute URL, headers) and forwards it."""

    def __init__(self) -> None:
        self._httpd = _ProxyServer(("127.0.0.1", 0), _ProxyHandler)
        self._httpd.record = []
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def requests(self) -> list[tuple[str, str, dict[str, str]]]:
        return list(self._httpd.record)

    def __enter__(self) -> RecordingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    with RecordingProxy() as p:
        yield p


@pytest.fixture(autouse=True)
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)


def provider(url: str, **fields: Any) -> ProviderConfig:
    return ProviderConfig(name="t", kind="openai", base_url=url, model="qwen-plus", **fields)


def load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return build(toml_module().loads(text), path, text, exists=True)


# --- config ----------------------------------------------------------------------------------


def test_config_keys_are_read(tmp_path: Path) -> None:
    (tmp_path / "corp.pem").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    cfg = load(tmp_path, """
[providers.qwen]
proxy = ""
ca_bundle = "corp.pem"
workspace = "ws_QTggmeAxxxxx"
data_inspection = { input = "cip", output = "cip" }

[providers.openai]
proxy = "http://127.0.0.1:7890"

[providers.zhipu]
data_inspection = '{"input":"cip"}'

[tools.weather]
proxy = "http://user:pw@proxy.example:3128"
""")
    qwen = cfg.providers["qwen"]
    assert qwen.proxy == "" and qwen.workspace == "ws_QTggmeAxxxxx"
    assert qwen.ca_bundle == str(tmp_path / "corp.pem")
    assert json.loads(qwen.data_inspection) == {"input": "cip", "output": "cip"}
    assert qwen.data_inspection == '{"input":"cip","output":"cip"}'
    assert cfg.providers["openai"].proxy == "http://127.0.0.1:7890"
    assert cfg.providers["zhipu"].data_inspection == '{"input":"cip"}'
    assert cfg.providers["dashscope"].proxy is None and cfg.providers["dashscope"].ca_bundle is None
    assert cfg.tools.weather.proxy == "http://user:pw@proxy.example:3128"


@pytest.mark.parametrize(("line", "message"), [
    ('proxy = "127.0.0.1:7890"', "providers.qwen.proxy must be a proxy URL"),
    ('proxy = "socks5://127.0.0.1:1080"', "providers.qwen.proxy must be a proxy URL"),
    ('proxy = "http://host:port"', "providers.qwen.proxy must be a proxy URL"),
    ("proxy = false", "providers.qwen.proxy must be a string"),
    ('ca_bundle = "missing.pem"', "providers.qwen.ca_bundle: no such file: "),
    ('ca_bundle = "."', "is a directory"),
    ('ca_bundle = "config.toml"', "holds no PEM certificate"),
    ('workspace = "ws 1"', "providers.qwen.workspace must be a non-empty string without spaces"),
    ('workspace = "空间"', "providers.qwen.workspace must be a non-empty string without spaces"),
    ("data_inspection = { input = 1 }", "providers.qwen.data_inspection must be a string or a table"),
    ('data_inspection = "a\\nb"', "providers.qwen.data_inspection must be a string or a table"),
])
def test_bad_values_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, f'default_provider = "qwen"\n\n[providers.qwen]\nmodel = "qwen-max"\n{line}\n')
    assert f"{tmp_path / 'config.toml'}:5: " in err.value.message
    assert message in err.value.message


def test_weather_proxy_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config.toml:2: tools.weather.proxy must be a proxy URL"):
        load(tmp_path, '[tools.weather]\nproxy = "nonsense"\n')


def test_missing_ca_bundle_through_the_program(chat: Any) -> None:
    chat.config.write_text(chat.config.read_text() + '\n[providers.qwen2]\n'
                           'kind = "openai"\nbase_url = "http://127.0.0.1:1/v1"\nmodel = "m"\n'
                           'ca_bundle = "~/no/such.pem"\n', encoding="utf-8")
    result = chat.run("providers")
    assert result.returncode == 2, result.stderr
    line = chat.config.read_text().splitlines().index('ca_bundle = "~/no/such.pem"') + 1
    assert f"config.toml:{line}: providers.qwen2.ca_bundle: no such file: {chat.home}/no/such.pem" in result.stderr


def test_config_set_keeps_a_proxy_url_as_text(chat: Any) -> None:
    assert chat.run("config", "set", "providers.qwen.proxy", "http://127.0.0.1:7890").returncode == 0
    assert chat.run("config", "set", "providers.qwen.workspace", "ws_abc").returncode == 0
    assert 'proxy = "http://127.0.0.1:7890"' in chat.config.read_text()
    assert 'workspace = "ws_abc"' in chat.config.read_text()


# --- headers -----------------------------------------------------------------------------------


def test_headers() -> None:
    assert transport.headers(provider("http://x")) == {}
    cfg = provider("http://x", workspace="ws_1", data_inspection='{"input":"cip","output":"cip"}')
    assert transport.headers(cfg) == {"X-DashScope-WorkSpace": "ws_1",
                                      "X-DashScope-DataInspection": '{"input":"cip","output":"cip"}'}


def test_httpx_client_sends_the_headers(server: FakeServer) -> None:
    server.route("/ping", lambda req: json_reply({}))
    cfg = provider(server.url, workspace="ws_1", data_inspection='{"input":"cip"}')
    with transport.httpx_client(cfg, 5, headers={"User-Agent": "ua"}) as client:
        assert client.get(server.url + "/ping").status_code == 200
    sent = server.requests[-1].headers
    assert sent["x-dashscope-workspace"] == "ws_1"
    assert sent["x-dashscope-datainspection"] == '{"input":"cip"}'
    assert sent["user-agent"] == "ua"


def test_openai_sdk_sends_the_headers(server: FakeServer) -> None:
    import openai

    server.queue(dashscope_text(["hi"]))
    cfg = provider(server.url + "/compatible-mode/v1", workspace="ws_1")
    client = openai.OpenAI(api_key="sk-x", base_url=cfg.base_url, max_retries=0,
                           http_client=transport.openai_http_client(cfg, 5))
    stream = client.chat.completions.create(model="qwen-plus", messages=[{"role": "user", "content": "hi"}],
                                            stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == "hi"
    assert completions(server)[0].headers["x-dashscope-workspace"] == "ws_1"


def test_zhipu_sdk_through_the_httpx_client(server: FakeServer, proxy: RecordingProxy) -> None:
    import zhipuai

    server.queue(zhipu_text(["hi"]))
    cfg = ProviderConfig(name="z", kind="zhipu", base_url=server.url + "/api/paas/v4", model="glm-4",
                         proxy=proxy.url)
    client = zhipuai.ZhipuAI(api_key="id.secret", base_url=cfg.base_url, max_retries=0,
                             http_client=transport.httpx_client(cfg, 5))
    answer = client.chat.completions.create(model="glm-4", messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "hi"
    assert [(m, u) for m, u, _h in proxy.requests] == [("POST", server.url + "/api/paas/v4/chat/completions")]


# --- proxy -------------------------------------------------------------------------------------

CLIENTS = {
    "httpx": lambda cfg: transport.httpx_client(cfg, 5),
    "httpx2": lambda cfg: transport.openai_http_client(cfg, 5),
}


@pytest.mark.parametrize("make", CLIENTS.values(), ids=CLIENTS.keys())
def test_proxy_in_config_is_used(make: Any, server: FakeServer, proxy: RecordingProxy,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")  # the config's proxy wins over NO_PROXY too
    server.route("/ping", lambda req: json_reply({"ok": True}))
    with make(provider(server.url, proxy=proxy.url, workspace="ws_9")) as client:
        assert client.get(server.url + "/ping?x=1").json() == {"ok": True}
    [(method, url, headers)] = proxy.requests
    assert (method, url) == ("GET", server.url + "/ping?x=1")
    assert headers["x-dashscope-workspace"] == "ws_9"
    assert server.requests[-1].path == "/ping?x=1"


@pytest.mark.parametrize("make", CLIENTS.values(), ids=CLIENTS.keys())
def test_empty_proxy_goes_direct_despite_the_environment(make: Any, server: FakeServer, proxy: RecordingProxy,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy.url)
    server.route("/ping", lambda req: json_reply({"ok": True}))
    with make(provider(server.url, proxy="")) as client:
        assert client.get(server.url + "/ping").json() == {"ok": True}
    assert proxy.requests == []
    assert len(server.requests) == 1


@pytest.mark.parametrize("make", CLIENTS.values(), ids=CLIENTS.keys())
def test_no_proxy_setting_leaves_the_environment_in_charge(make: Any, server: FakeServer, proxy: RecordingProxy,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    server.route("/ping", lambda req: json_reply({"ok": True}))
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    with make(provider(server.url)) as client:
        assert client.get(server.url + "/ping").status_code == 200
    assert len(proxy.requests) == 1
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with make(provider(server.url)) as client:
        assert client.get(server.url + "/ping").status_code == 200
    assert len(proxy.requests) == 1 and len(server.requests) == 2


def test_proxy_for_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert transport.proxy_for(provider(url, proxy="http://p:1"), url) == ("http://p:1", "proxy in config")
    assert transport.proxy_for(provider(url, proxy=""), url) == (None, 'proxy = "" in config')
    assert transport.proxy_for(provider(url), url) == (None, "no proxy set")
    monkeypatch.setenv("HTTPS_PROXY", "p:3128")
    assert transport.proxy_for(provider(url), url) == ("http://p:3128", "HTTPS_PROXY")
    assert transport.proxy_for(provider(url, proxy=""), url) == (None, 'proxy = "" in config')
    monkeypatch.setenv("NO_PROXY", ".aliyuncs.com,localhost")
    assert transport.proxy_for(provider(url), url) == (None, "NO_PROXY matches the host")
    other = "https://api.openai.com/v1"
    assert transport.proxy_for(provider(other), other) == ("http://p:3128", "HTTPS_PROXY")
    assert without_password("http://u:secret@p:1") == "http://***@p:1"
    assert without_password("http://p:1") == "http://p:1"


def test_weather_goes_through_its_proxy(server: FakeServer, proxy: RecordingProxy) -> None:
    from chatcli.tools.weather import current_weather

    server.route("/v1/search", lambda req: json_reply({"results": [{"name": "杭州", "latitude": 30.3,
                                                                     "longitude": 120.2}]}))
    current = {"time": "2026-11-21T14:00", "temperature_2m": 12.3, "relative_humidity_2m": 70,
               "apparent_temperature": 10.1, "weather_code": 3, "wind_speed_10m": 8.5}
    server.route("/v1/forecast", lambda req: json_reply({"current": current}))
    settings = WeatherSettings(geocoding_url=server.url + "/v1/search", forecast_url=server.url + "/v1/forecast",
                               timeout=5, proxy=proxy.url)
    result = current_weather("杭州", settings=settings)
    assert result["temperature"] == 12.3, result
    assert [urlsplit(u).path for _m, u, _h in proxy.requests] == ["/v1/search", "/v1/forecast"]


def test_weather_empty_proxy_ignores_the_environment(server: FakeServer, proxy: RecordingProxy,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from chatcli.tools.weather import current_weather

    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    server.route("/v1/search", lambda req: json_reply({"generationtime_ms": 0.5}))
    settings = WeatherSettings(geocoding_url=server.url + "/v1/search", forecast_url=server.url + "/v1/forecast",
                               timeout=5, proxy="")
    assert "no place named" in current_weather("Nowhere", settings=settings)["error"]
    assert proxy.requests == [] and len(server.requests) == 1


# --- TLS ---------------------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An HTTPS server on loopback with a self-signed certificate for 127.0.0.1; (url, its PEM)."""
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1/O=chatcli test CA", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)

    class Hello(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    httpd.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    try:
        yield f"https://127.0.0.1:{httpd.server_address[1]}", cert
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize("make", CLIENTS.values(), ids=CLIENTS.keys())
def test_ca_bundle_is_trusted_and_the_default_store_is_not_fooled(make: Any, tls_server: tuple[str, Path]) -> None:
    url, cert = tls_server
    with make(provider(url, ca_bundle=str(cert))) as client:
        assert client.get(url + "/").text == "ok"
    with make(provider(url)) as client, pytest.raises(Exception, match="CERTIFICATE_VERIFY_FAILED"):
        client.get(url + "/")


def test_system_trust_store_has_cas() -> None:
    ctx = transport.ssl_context()
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert ctx.get_ca_certs() or transport._has_ca_dir()


# --- the adapters use it ----------------------------------------------------------------------------

def test_chat_ask_goes_through_the_providers_proxy_with_its_workspace(chat: Any, server: FakeServer,
                                                                       proxy: RecordingProxy) -> None:
    with chat.config.open("a") as f:
        f.write(f'\n[providers.work]\nkind = "openai"\nbase_url = "{server.url}/compatible-mode/v1"\n'
                f'model = "qwen-plus"\napi_key_env = "DASHSCOPE_API_KEY"\nproxy = "{proxy.url}"\n'
                f'workspace = "ws-team-1"\n')
    server.queue(dashscope_text(["via the proxy"]))
    proc = chat.run("ask", "-p", "work", "hi")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "via the proxy\n"
    (req,) = completions(server)
    assert req.headers["x-dashscope-workspace"] == "ws-team-1"
    assert [(m, u) for m, u, _ in proxy.requests] == [("POST", f"{server.url}/compatible-mode/v1/chat/completions")]


@pytest.mark.parametrize("kind, path", [("zhipu", "/api/paas/v4"), ("dashscope", "/api/v1")])
def test_every_adapter_takes_proxy_and_headers(server: FakeServer, proxy: RecordingProxy, kind: str,
                                               path: str) -> None:
    from chatcli.core.messages import ChatRequest, Message
    from chatcli.providers.registry import create_provider
    from tests.fake_dashscope import NativeReply, NativeService

    if kind == "dashscope":
        NativeService(server).queue(NativeReply(["ok"]))
    else:
        server.queue(zhipu_text(["ok"]))
    config = ProviderConfig(name=kind, kind=kind, base_url=server.url + path, model="qwen-plus", api_key="k" * 12,
                            proxy=proxy.url, workspace="ws-9")
    list(create_provider(config).stream(ChatRequest([Message("user", "hi")], "qwen-plus")))
    (recorded,) = [r for r in server.requests if r.method == "POST"]
    assert recorded.headers.get("x-dashscope-workspace") == "ws-9"
    assert len(proxy.requests) == 1 and proxy.requests[0][1].startswith(server.url + path)
