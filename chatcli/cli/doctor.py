"""`chat doctor`: one line per check and provider, fit to paste into a bug report (no secrets).

For each provider in use: where its config comes from, whether its key is there (and from where),
the route (proxy or direct), DNS, TCP and TLS to its host, an HTTP answer and the clock skew it
shows, and a one-token model request (not with --quick). Providers are checked in parallel, each
step with a short timeout, so unreachable hosts cost seconds, not minutes.
"""

from __future__ import annotations

import base64
import dataclasses
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from chatcli.config.secrets import redact
from chatcli.errors import ChatError, ExitCode
from chatcli.ui.sanitize import visible

if TYPE_CHECKING:
    from chatcli.config.model import Config, ProviderConfig

T = TypeVar("T")
STEP_TIMEOUT = 3.0  # seconds for one DNS lookup, TCP connect, TLS handshake or HTTP request
ANSWER_TIMEOUT = 20.0  # seconds for the model's one-token answer
CLOCK_WARN, CLOCK_FAIL = 30, 300  # seconds of skew that are worth a warning, and that break signed requests


class _Stop(Exception):
    """A step failed in a way that makes the following network steps pointless."""


@dataclass
class Line:
    """The outcome of one check: ok, FAIL, warn or skip, and what was found."""

    check: str
    status: str
    detail: str


class Report:
    """The lines of one provider, appended as its checks finish (read at the deadline even if unfinished)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lines: list[Line] = []
        self.done = threading.Event()

    def add(self, check: str, status: str, detail: str) -> None:
        self.lines.append(Line(check, status, detail))


def doctor(config: str | None, quick: bool = False, only: list[str] | None = None,
           out: Any = None) -> int:
    """Check the providers, print the report; exit status 1 if any check failed."""
    from chatcli import __version__
    from chatcli.config import load_config

    out = out or sys.stdout
    cfg = load_config(config)
    names = _chosen(cfg, only or [])
    reports = [Report(name) for name in names]
    for report in reports:
        threading.Thread(target=_run, args=(cfg, report, quick), daemon=True, name=f"doctor-{report.name}").start()
    deadline = time.monotonic() + 4 * STEP_TIMEOUT + (0 if quick else ANSWER_TIMEOUT) + 2
    out.write(f"chat {__version__}, Python {sys.version.split()[0]}, {sys.platform}\n")
    out.write(f"config: {visible(str(cfg.path))}{'' if cfg.exists else ' (no such file: presets only)'}\n")
    skipped = [n for n in cfg.providers if n not in names]
    if skipped and not only:
        out.write(f"not checked (not in the config file; name one with -p): {visible(', '.join(skipped))}\n")
    width = max((len(visible(n)) for n in names), default=0)
    failed: list[str] = []
    for report in reports:
        if not report.done.wait(max(0.0, deadline - time.monotonic())):
            report.add("doctor", "FAIL", "checks still running at the deadline (a step hung)")
        for line in list(report.lines):
            if line.status == "FAIL":
                failed.append(f"{visible(report.name)} {line.check}")
            text = f"{visible(report.name):<{width}}  {line.check:<6}  {line.status:<4}  {line.detail}"
            out.write(redact(text).rstrip() + "\n")
    out.write(f"{len(failed)} failed: {', '.join(failed)}\n" if failed else "all checks passed\n")
    out.flush()
    return ExitCode.ERROR if failed else ExitCode.OK


def _chosen(cfg: Config, only: list[str]) -> list[str]:
    """The providers to check: those named, else the default one and those with a table in the file."""
    if only:
        for name in only:
            cfg.provider(name)  # ConfigError for an unknown name
        return list(dict.fromkeys(only))
    in_file = set(_file_tables(cfg))
    return [n for n in cfg.providers if n == cfg.default_provider or n in in_file]


def _file_tables(cfg: Config) -> dict[str, Any]:
    """The [providers.*] tables of the config file, as read."""
    from chatcli.config.loading import read_raw

    raw, _text = read_raw(cfg.path)
    tables = raw.get("providers", {})
    return tables if isinstance(tables, dict) else {}


def _run(cfg: Config, report: Report, quick: bool) -> None:
    """All checks of one provider, in order; a bug in one is a FAIL line, never a crash."""
    try:
        pcfg = cfg.providers[report.name]
        _config_line(cfg, pcfg, report)
        key_ok = _key_line(pcfg, report)
        http_ok = _network_lines(pcfg, report)
        if quick:
            report.add("answer", "skip", "--quick")
        elif not key_ok:
            report.add("answer", "skip", "no usable key")
        elif not http_ok:
            report.add("answer", "skip", "the server is not reachable")
        else:
            _answer_line(pcfg, report)
    except Exception as e:  # the report must still come out
        report.add("doctor", "FAIL", f"internal error: {type(e).__name__}: {e}")
    finally:
        report.done.set()


def _config_line(cfg: Config, pcfg: ProviderConfig, report: Report) -> None:
    from chatcli.config.lines import dotted, find_line

    where = ("providers", pcfg.name)
    text = cfg.path.read_text(encoding="utf-8-sig") if cfg.exists else None
    line = find_line(text, where)
    origin = f"[{dotted(where)}] at {cfg.path}:{line}" if line else "built-in preset"
    report.add("config", "ok", visible(f"{origin}; kind {pcfg.kind}, model {pcfg.model}, {pcfg.base_url}"))


def _key_line(pcfg: ProviderConfig, report: Report) -> bool:
    """Whether a key is there (or none is needed); says where it comes from, never what it is."""
    if pcfg.api_key_cmd:
        source = "api_key_cmd"
    elif pcfg.api_key and pcfg.api_key.strip():
        source = f"api_key in [providers.{pcfg.name}]"
    elif pcfg.api_key_env:
        source = pcfg.api_key_env
    else:
        report.add("key", "ok", "none needed")
        return True
    try:
        pcfg.resolve_api_key()
    except ChatError as e:
        report.add("key", "FAIL", visible(e.message))
        return False
    report.add("key", "ok", visible(f"from {source}"))
    return True


def _network_lines(pcfg: ProviderConfig, report: Report) -> bool:
    """Route, DNS, TCP, TLS, HTTP and clock lines; whether the server answered HTTP."""
    from chatcli.config.secrets import without_password
    from chatcli.providers.transport import proxy_for

    url = urlsplit(pcfg.base_url or "")
    if url.scheme not in ("http", "https") or not url.hostname:
        report.add("route", "FAIL", visible(f"base_url is not an http(s) URL: {pcfg.base_url}"))
        return False
    host, port = url.hostname, url.port or (443 if url.scheme == "https" else 80)
    proxy, why = proxy_for(pcfg, pcfg.base_url or "")
    proxy_url = urlsplit(proxy) if proxy else None
    if proxy_url:
        report.add("route", "ok", visible(f"through proxy {without_password(proxy or '')} ({why})"))
        hop, hop_port = proxy_url.hostname or "", proxy_url.port or (443 if proxy_url.scheme == "https" else 80)
    else:
        report.add("route", "ok", visible(f"direct ({why})"))
        hop, hop_port = host, port
    try:
        sock = _connect(hop, hop_port, "the proxy " if proxy_url else "", report)
        try:
            _tls_line(pcfg, report, sock, host, port, url.scheme, proxy_url)
        finally:
            sock.close()
    except _Stop:
        report.add("http", "skip", "not reachable")
        return False
    return _http_lines(pcfg, report)


def _connect(host: str, port: int, what: str, report: Report) -> socket.socket:
    """DNS and TCP lines for host:port; the connected socket."""
    try:
        started = time.monotonic()
        infos = _within(STEP_TIMEOUT, lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
    except (OSError, TimeoutError) as e:
        report.add("dns", "FAIL", visible(f"{what}{host}: {_why(e)}"))
        raise _Stop from None
    addrs = list(dict.fromkeys(str(info[4][0]) for info in infos))
    shown = ", ".join(addrs[:3]) + (f" (+{len(addrs) - 3})" if len(addrs) > 3 else "")
    report.add("dns", "ok", visible(f"{what}{host} -> {shown} in {_ms(started)}"))
    errors = []
    until = time.monotonic() + STEP_TIMEOUT  # one budget for all the addresses tried
    for family, kind, proto, _name, addr in infos[:4]:
        if time.monotonic() >= until:
            break
        sock = socket.socket(family, kind, proto)
        sock.settimeout(until - time.monotonic())
        started = time.monotonic()
        try:
            sock.connect(addr)
        except OSError as e:
            sock.close()
            errors.append(f"{_hostport(str(addr[0]), port)}: {_why(e)}")
            continue
        report.add("tcp", "ok", visible(f"{what}{_hostport(str(addr[0]), port)} in {_ms(started)}"))
        sock.settimeout(STEP_TIMEOUT)  # for the CONNECT and TLS handshake that follow
        return sock
    report.add("tcp", "FAIL", visible("; ".join(errors) or f"no connection within {STEP_TIMEOUT:g} s"))
    raise _Stop


def _tls_line(pcfg: ProviderConfig, report: Report, sock: socket.socket, host: str, port: int,
              scheme: str, proxy: Any) -> None:
    """TLS to the provider's host, through the proxy's CONNECT tunnel when there is one."""
    from chatcli.providers.transport import ssl_context

    if scheme != "https":
        report.add("tls", "skip", "http:// base_url: no TLS")
        return
    if proxy is not None and proxy.scheme == "https":
        report.add("tls", "skip", "through an https:// proxy: not checked here (the http line still is)")
        return
    trust = f"ca_bundle {pcfg.ca_bundle}" if pcfg.ca_bundle else "system trust store"
    try:
        if proxy is not None:
            _tunnel(sock, host, port, proxy)
        started = time.monotonic()
        with ssl_context(pcfg.ca_bundle).wrap_socket(sock, server_hostname=host) as tls:
            cert = tls.getpeercert() or {}
            issuer = _name(cert.get("issuer", ()))
            report.add("tls", "ok", visible(f"{tls.version()} in {_ms(started)}, issued by {issuer} ({trust})"))
    except ssl.SSLCertVerificationError as e:
        hint = "; behind a proxy that re-signs TLS? set ca_bundle" if not pcfg.ca_bundle else ""
        report.add("tls", "FAIL", visible(f"certificate not trusted: {e.verify_message} ({trust}){hint}"))
        raise _Stop from None
    except (OSError, ValueError) as e:
        report.add("tls", "FAIL", visible(_why(e)))
        raise _Stop from None


def _tunnel(sock: socket.socket, host: str, port: int, proxy: Any) -> None:
    """Ask an http:// proxy for a CONNECT tunnel on sock; OSError if it refuses."""
    auth = ""
    if proxy.username is not None:
        pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()
        auth = f"Proxy-Authorization: Basic {base64.b64encode(pair).decode()}\r\n"
    sock.sendall(f"CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n{auth}\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head and len(head) < 65536:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    status = head.split(b"\r\n", 1)[0].decode("latin-1")
    if not status.split(" ")[1:2] == ["200"]:
        raise OSError(f"the proxy refused to CONNECT to {host}:{port}: {status or 'no answer'}")


def _http_lines(pcfg: ProviderConfig, report: Report) -> bool:
    """A GET of base_url through chatcli's own HTTP client: the http line and the clock line."""
    from email.utils import parsedate_to_datetime

    import httpx

    from chatcli.providers.transport import httpx_client

    try:
        with httpx_client(pcfg, STEP_TIMEOUT) as client:
            before = time.time()
            response = client.get(pcfg.base_url or "")
            now = (before + time.time()) / 2
    except httpx.HTTPError as e:
        report.add("http", "FAIL", visible(f"GET base_url: {_why(e)}"))
        return False
    if response.status_code == 407:
        report.add("http", "FAIL", "HTTP 407: the proxy wants credentials (proxy = \"http://user:pass@host:port\")")
        return False
    report.add("http", "ok", f"GET base_url -> HTTP {response.status_code} in {response.elapsed.total_seconds():.2f} s")
    date = response.headers.get("date")
    try:
        skew = round(now - parsedate_to_datetime(date).timestamp()) if date else None
    except (TypeError, ValueError):
        skew = None
    if skew is None:
        report.add("clock", "skip", "the server sent no usable Date header")
    else:
        report.add("clock", *clock(skew))
    return True


def clock(skew: int) -> tuple[str, str]:
    """The status and words for a local clock `skew` seconds ahead of the server (negative: behind)."""
    status = "ok" if abs(skew) < CLOCK_WARN else "warn" if abs(skew) < CLOCK_FAIL else "FAIL"
    side = "in step with" if abs(skew) <= 1 else f"{abs(skew)} s {'ahead of' if skew > 0 else 'behind'}"
    hint = "; signed requests (Zhipu's tokens) may be refused: set the clock" if status != "ok" else ""
    return status, f"local clock {side} the server's Date header{hint}"


def _answer_line(pcfg: ProviderConfig, report: Report) -> None:
    """One tiny request through the real adapter (max_tokens 1)."""
    from chatcli.core.messages import ChatRequest, Message
    from chatcli.core.options import GenerationOptions
    from chatcli.providers.registry import create_provider

    quick_cfg = dataclasses.replace(pcfg, timeout=min(pcfg.timeout, ANSWER_TIMEOUT))
    provider = create_provider(quick_cfg)
    request = ChatRequest(messages=[Message("user", "Reply with OK.")], model=pcfg.model,
                          generation=GenerationOptions(max_tokens=1))
    started = time.monotonic()
    try:
        _within(ANSWER_TIMEOUT, lambda: list(provider.stream(request)))
    except ChatError as e:
        rid = getattr(e, "request_id", None)
        report.add("answer", "FAIL", visible(e.message + (f" (request_id {rid})" if rid else "")))
        return
    except TimeoutError:
        report.add("answer", "FAIL", f"no answer within {ANSWER_TIMEOUT:g} s")
        return
    report.add("answer", "ok", visible(f"{pcfg.model} answered in {time.monotonic() - started:.1f} s"))


def _within(seconds: float, fn: Callable[[], T]) -> T:
    """fn() run in a daemon thread, or TimeoutError after seconds (getaddrinfo has no timeout of its own)."""
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # re-raised in the caller's thread
            box["error"] = e
        done.set()

    threading.Thread(target=target, daemon=True).start()
    if not done.wait(seconds):
        raise TimeoutError(f"timed out after {seconds:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _name(rdns: Any) -> str:
    """The organisation (or common name) of a certificate's issuer."""
    fields = {k: v for rdn in rdns for k, v in rdn}
    return str(fields.get("organizationName") or fields.get("commonName") or "?")


def _hostport(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def _ms(started: float) -> str:
    return f"{(time.monotonic() - started) * 1000:.0f} ms"


def _why(e: BaseException) -> str:
    """An exception as a few words: its text, or its type when it has none."""
    text = str(e.strerror if isinstance(e, OSError) and e.strerror else e)
    return text or type(e).__name__
