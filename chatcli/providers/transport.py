"""How chatcli reaches a server: the proxy in effect, the CAs it trusts, and DashScope's extra headers.

A provider's (or `[tools.weather]`'s) `proxy` is a URL ("http://host:port"), "" for a direct
connection that ignores HTTPS_PROXY/ALL_PROXY, or unset: the environment's HTTPS_PROXY/NO_PROXY
apply as the HTTP libraries read them. TLS trusts the system store (truststore on Windows and
macOS; OpenSSL's default paths elsewhere, which honour SSL_CERT_FILE), or only a provider's
`ca_bundle`. httpx, httpx2 (openai 3.x) and truststore are imported only when a client is built,
so nothing here slows `chat --help`.
"""

from __future__ import annotations

import functools
import os
import platform
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import httpx
    import httpx2

    from chatcli.config.model import ProviderConfig, WeatherSettings

    Reachable = ProviderConfig | WeatherSettings

CONNECT_TIMEOUT = 10.0  # seconds at most to connect, whatever the read timeout


def headers(config: ProviderConfig) -> dict[str, str]:
    """The extra headers a provider's config asks for: X-DashScope-WorkSpace, X-DashScope-DataInspection."""
    out: dict[str, str] = {}
    if config.workspace:
        out["X-DashScope-WorkSpace"] = config.workspace
    if config.data_inspection:
        out["X-DashScope-DataInspection"] = config.data_inspection
    return out


def ssl_context(ca_bundle: str | None = None) -> ssl.SSLContext:
    """The TLS context: only ca_bundle's CAs if given, else the system trust store."""
    return _ssl_context(ca_bundle)


@functools.lru_cache(maxsize=8)
def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    if platform.system() in ("Windows", "Darwin"):
        # truststore asks the OS (Keychain, CryptoAPI), where corporate CAs are installed.
        # Not on Linux: it re-adds verify paths per handshake, which OpenSSL < 3.4 accumulates
        # (sethmlarson/truststore#212), and the default paths are the system store there anyway.
        import truststore

        return truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx = ssl.create_default_context()
    if not ctx.get_ca_certs() and not _has_ca_dir():
        import certifi  # no system store at all (a bare container): the bundle httpx would use

        ctx.load_verify_locations(certifi.where())
    return ctx


def _has_ca_dir() -> bool:
    paths = ssl.get_default_verify_paths()
    capath = os.environ.get(paths.openssl_capath_env) or paths.capath
    return bool(capath) and os.path.isdir(capath) and bool(os.listdir(capath))


def client_options(config: Reachable) -> dict[str, Any]:
    """Keyword arguments for httpx.Client and httpx2.Client: proxy, trust_env and verify."""
    options: dict[str, Any] = {"verify": ssl_context(getattr(config, "ca_bundle", None))}
    if config.proxy:
        options["proxy"] = config.proxy
    elif config.proxy == "":
        options["trust_env"] = False  # no HTTP(S)_PROXY/ALL_PROXY; TLS is ours already, so nothing else changes
    return options


def httpx_client(config: Reachable, timeout: float, **kwargs: Any) -> httpx.Client:
    """An httpx.Client for the zhipuai SDK (`http_client=`) or the native DashScope path.

    It carries the config's extra headers; kwargs go to httpx.Client (headers are merged).
    """
    import httpx

    from chatcli.config.model import ProviderConfig

    extra = headers(config) if isinstance(config, ProviderConfig) else {}
    kwargs["headers"] = {**extra, **kwargs.get("headers", {})}
    kwargs.setdefault("timeout", httpx.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)))
    return httpx.Client(**client_options(config), **kwargs)


def openai_http_client(config: ProviderConfig, timeout: float) -> httpx2.Client:
    """An httpx2.Client for the openai SDK's `http_client=`, with the SDK's own defaults and our headers."""
    import openai

    return openai.DefaultHttpxClient(
        timeout=openai.Timeout(timeout, connect=min(CONNECT_TIMEOUT, timeout)),
        headers=headers(config), **client_options(config),
    )


def proxy_for(config: Reachable, url: str) -> tuple[str | None, str]:
    """The proxy a request to url goes through (None: direct), and why, as a few words for `chat doctor`."""
    if config.proxy:
        return config.proxy, "proxy in config"
    if config.proxy == "":
        return None, 'proxy = "" in config'
    import urllib.request

    parts = urlsplit(url)
    env = {k.lower(): k for k in os.environ}
    found = urllib.request.getproxies_environment()
    for scheme in (parts.scheme, "all"):
        if found.get(scheme):
            name = env.get(f"{scheme}_proxy", f"{scheme.upper()}_PROXY")
            if _bypassed(parts.hostname or "", found.get("no", "")):
                return None, f"{env.get('no_proxy', 'NO_PROXY')} matches the host"
            value = found[scheme]
            return (value if "://" in value else f"http://{value}"), name
    return None, "no proxy set"


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether NO_PROXY names host (an entry matches the host and its subdomains; "*" matches all)."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        entry = entry.lstrip(".").split(":")[0] if not entry.startswith("[") else entry.strip("[]")
        if entry == "*" or (entry and (host.lower() == entry or host.lower().endswith("." + entry))):
            return True
    return False
