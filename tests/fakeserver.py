"""Loopback HTTP server that plays scripted DashScope / Zhipu chat replies to the real SDKs.

Every POST to a path ending in ``/chat/completions`` pops the next queued reply. A chat reply is
sent as SSE (chunked transfer encoding, one HTTP chunk per event) when the request has
``"stream": true``, else as one ``chat.completion`` JSON body. The stream wrappers (cut, gated,
slow, midstream_error) change only streaming answers.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Call = tuple[str, str, str]  # (id, name, arguments_json)
Headers = dict[str, str] | None
# A stream step is bytes (one SSE event = one HTTP chunk), a float (pause, seconds),
# a threading.Event (gate: wait for it or for server stop) or _CUT (drop the connection).
Step = bytes | float | threading.Event | object
_CUT = object()
_DONE = b"data: [DONE]\n\n"
_ids = itertools.count(1)


@dataclass
class RecordedRequest:
    """One request as the server received it (header names lower-cased)."""
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    json: Any = field(init=False, default=None)

    def __post_init__(self) -> None:
        try:
            self.json = json.loads(self.body) if self.body else None
        except ValueError:
            self.json = None

    def _get(self, key: str) -> Any:
        return self.json.get(key) if isinstance(self.json, dict) else None

    @property
    def query(self) -> dict[str, list[str]]:
        """The parsed query string."""
        return parse_qs(urlsplit(self.path).query)

    @property
    def stream(self) -> bool:
        """True when the JSON body asks for a streamed answer."""
        return self._get("stream") is True

    @property
    def include_usage(self) -> bool:
        """True when the body has stream_options.include_usage true."""
        opts = self._get("stream_options")
        return isinstance(opts, dict) and opts.get("include_usage") is True

    @property
    def model(self) -> str:
        """The requested model (echoed back in replies)."""
        model = self._get("model")
        return model if isinstance(model, str) else "fake-model"


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode()


def _sse(obj: Any) -> bytes:
    return b"data: " + _dumps(obj) + b"\n\n"


class _Conn:
    """What a Reply writes through: the request handler plus the server's stop signal."""

    def __init__(self, handler: _Handler, fake: FakeServer) -> None:
        self.h, self.fake, self.started = handler, fake, False

    def send(self, status: int, body: bytes, headers: Headers = None) -> None:
        """Send a complete response with Content-Length."""
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if not any(k.lower() == "content-length" for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        self._head(status, hdrs)
        self.h.wfile.write(body)

    def stream(self, steps: list[Step]) -> None:
        """Send steps as a chunked text/event-stream, flushing every event."""
        self._head(200, {"Content-Type": "text/event-stream; charset=utf-8",
                         "Cache-Control": "no-cache", "Transfer-Encoding": "chunked"})
        for step in steps:
            if step is _CUT:
                return self.abort()
            if isinstance(step, threading.Event):
                self.fake._wait_gate(step)
            elif isinstance(step, float):
                self.fake._stopping.wait(step)
            elif self.fake._stopping.is_set():
                return self.abort()
            else:
                self.h.wfile.write(b"%x\r\n%s\r\n" % (len(step), step))  # type: ignore[arg-type]
        self.h.wfile.write(b"0\r\n\r\n")

    def hang(self) -> None:
        """Send nothing until the server stops, then drop the connection."""
        self.fake._stopping.wait()
        self.abort()

    def abort(self) -> None:
        """Close the connection at once (FIN), whatever has been sent so far."""
        self.h.close_connection = True
        with contextlib.suppress(OSError):
            self.h.connection.shutdown(socket.SHUT_RDWR)

    def _head(self, status: int, headers: dict[str, str]) -> None:
        self.started = True
        self.h.send_response(status)
        for k, v in headers.items():
            self.h.send_header(k, v)
        self.h.end_headers()


class Reply:
    """A scripted response; writes itself for the recorded request."""

    def __init__(self, fn: Callable[[_Conn, RecordedRequest], None]) -> None:
        self.fn = fn

    def write(self, conn: _Conn, req: RecordedRequest) -> None:
        self.fn(conn, req)


class StreamReply(Reply):
    """A chat reply: SSE steps when the request streams, else one chat.completion body."""

    def steps(self, req: RecordedRequest) -> list[Step]:
        raise NotImplementedError

    def completion(self, req: RecordedRequest) -> dict[str, Any]:
        raise NotImplementedError

    def write(self, conn: _Conn, req: RecordedRequest) -> None:
        if req.stream:
            conn.stream(self.steps(req))
        else:
            conn.send(200, _dumps(self.completion(req)))


@dataclass
class ChatScript(StreamReply):
    """One scripted assistant turn in DashScope or Zhipu wire style."""
    flavor: str  # "dashscope" | "zhipu"
    text: Sequence[str] = ()
    reasoning: Sequence[str] = ()
    calls: Sequence[Call] = ()
    finish: str = "stop"
    usage: tuple[int, int] = (10, 5)
    cached: int | None = None
    reasoning_tokens: int | None = None
    fragment_size: int = 5
    web_search: list[dict[str, Any]] | None = None
    content_filter: list[dict[str, Any]] | None = None
    same_chunk_finish: bool = False
    id: str = field(default_factory=lambda: f"chatcmpl-fake{next(_ids)}")

    def usage_dict(self) -> dict[str, Any]:
        """The usage object (with the optional token details)."""
        p, c = self.usage
        u: dict[str, Any] = {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}
        if self.cached is not None:
            u["prompt_tokens_details"] = {"cached_tokens": self.cached}
        if self.reasoning_tokens is not None:
            u["completion_tokens_details"] = {"reasoning_tokens": self.reasoning_tokens}
        return u

    def chunks(self, req: RecordedRequest) -> list[dict[str, Any]]:
        """The chat.completion.chunk objects of the stream, without [DONE]."""
        return self._dashscope(req) if self.flavor == "dashscope" else self._zhipu(req)

    def steps(self, req: RecordedRequest) -> list[Step]:
        return [_sse(c) for c in self.chunks(req)] + [_DONE]

    def completion(self, req: RecordedRequest) -> dict[str, Any]:
        msg: dict[str, Any] = {"role": "assistant", "content": "".join(self.text)}
        if self.reasoning:
            msg["reasoning_content"] = "".join(self.reasoning)
        if self.calls:
            msg["content"] = msg["content"] or None
            msg["tool_calls"] = [self._call(i, c) for i, c in enumerate(self.calls)]
        choice = {"index": 0, "message": msg, "finish_reason": self.finish}
        return {**self._base(req, "chat.completion"), "choices": [choice],
                "usage": self.usage_dict(), **self._extras()}

    def _base(self, req: RecordedRequest, obj: str = "chat.completion.chunk") -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": int(time.time()), "model": req.model}

    def _chunk(self, req: RecordedRequest, delta: dict[str, Any], finish: str | None = None,
               **top: Any) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if finish is not None or self.flavor == "dashscope":  # Zhipu omits it until the end
            choice["finish_reason"] = finish
        return {**self._base(req), "choices": [choice], **top}

    def _call(self, i: int, call: Call) -> dict[str, Any]:
        out = {"id": call[0], "type": "function", "function": {"name": call[1], "arguments": call[2]}}
        return {**out, "index": i} if self.flavor == "zhipu" else out

    def _extras(self) -> dict[str, Any]:
        """Zhipu's top-level web_search / content_filter fields."""
        extras: dict[str, Any] = {}
        if self.web_search is not None:
            extras["web_search"] = self.web_search
        if self.content_filter is not None or self.finish == "sensitive":
            extras["content_filter"] = self.content_filter or [{"role": "assistant", "level": 1}]
        return extras

    def _dashscope(self, req: RecordedRequest) -> list[dict[str, Any]]:
        out = [self._chunk(req, {"role": "assistant", "content": ""})]
        out += [self._chunk(req, {"content": None, "reasoning_content": r}) for r in self.reasoning]
        out += [self._chunk(req, {"content": t}) for t in self.text]
        n = max(1, self.fragment_size)
        for i, (cid, name, args) in enumerate(self.calls):
            first = {"index": i, "id": cid, "type": "function", "function": {"name": name, "arguments": ""}}
            out.append(self._chunk(req, {"content": None, "tool_calls": [first]}))
            for k in range(0, len(args), n):
                later = {"index": i, "id": "", "type": "function", "function": {"arguments": args[k:k + n]}}
                out.append(self._chunk(req, {"content": None, "tool_calls": [later]}))
        out.append(self._chunk(req, {} if self.calls else {"content": ""}, self.finish))
        if req.include_usage:
            out.append({**self._base(req), "choices": [], "usage": self.usage_dict()})
        return out

    def _zhipu(self, req: RecordedRequest) -> list[dict[str, Any]]:
        role = {"role": "assistant"}
        out = [self._chunk(req, {**role, "reasoning_content": r}) for r in self.reasoning]
        out += [self._chunk(req, {**role, "content": t}) for t in self.text]
        out += [self._chunk(req, {**role, "tool_calls": [self._call(i, c)]})
                for i, c in enumerate(self.calls)]
        extras = self._extras()
        finish_top = {"usage": self.usage_dict()}
        if "content_filter" in extras:
            finish_top["content_filter"] = extras["content_filter"]
        if self.same_chunk_finish and self.calls:
            out[-1]["choices"][0]["finish_reason"] = self.finish
            out[-1].update(finish_top)
        else:
            out.append(self._chunk(req, {**role, "content": ""}, self.finish, **finish_top))
        if "web_search" in extras:
            out[0]["web_search"] = extras["web_search"]
        return out


def dashscope_text(chunks: Sequence[str], *, reasoning: Sequence[str] = (), finish: str = "stop",
                   usage: tuple[int, int] = (10, 5), cached: int | None = None,
                   reasoning_tokens: int | None = None) -> ChatScript:
    """A DashScope text answer (usage-only chunk only when the request asks include_usage)."""
    return ChatScript("dashscope", chunks, reasoning, finish=finish, usage=usage,
                      cached=cached, reasoning_tokens=reasoning_tokens)


def zhipu_text(chunks: Sequence[str], *, reasoning: Sequence[str] = (), finish: str = "stop",
               usage: tuple[int, int] = (10, 5), web_search: list[dict[str, Any]] | None = None,
               content_filter: list[dict[str, Any]] | None = None, cached: int | None = None,
               reasoning_tokens: int | None = None) -> ChatScript:
    """A Zhipu text answer (role on every delta, usage on the finish chunk)."""
    return ChatScript("zhipu", chunks, reasoning, finish=finish, usage=usage, cached=cached,
                      reasoning_tokens=reasoning_tokens, web_search=web_search,
                      content_filter=content_filter)


def dashscope_tool_calls(calls: Sequence[Call], *, text_before: str = "", fragment_size: int = 5,
                         usage: tuple[int, int] = (10, 5), reasoning: Sequence[str] = ()) -> ChatScript:
    """DashScope tool calls: id+name first, then "id": "" deltas with argument fragments."""
    return ChatScript("dashscope", [text_before] if text_before else (), reasoning, calls,
                      "tool_calls", usage, fragment_size=fragment_size)


def zhipu_tool_calls(calls: Sequence[Call], *, text_before: str = "", same_chunk_finish: bool = False,
                     usage: tuple[int, int] = (10, 5), reasoning: Sequence[str] = ()) -> ChatScript:
    """Zhipu tool calls: each call whole in one chunk; optionally finish on the last call chunk."""
    return ChatScript("zhipu", [text_before] if text_before else (), reasoning, calls,
                      "tool_calls", usage, same_chunk_finish=same_chunk_finish)


class _Wrapped(StreamReply):
    """A chat reply whose streamed steps are rewritten; non-streaming requests pass through."""

    def __init__(self, inner: StreamReply, rewrite: Callable[[list[Step]], list[Step]]) -> None:
        self.inner, self.rewrite = inner, rewrite

    def steps(self, req: RecordedRequest) -> list[Step]:
        return self.rewrite(self.inner.steps(req))

    def completion(self, req: RecordedRequest) -> dict[str, Any]:
        return self.inner.completion(req)


def _split(steps: list[Step], after: int) -> tuple[list[Step], list[Step]]:
    """Split steps after the first `after` events (pauses travel with the event they precede)."""
    sent = 0
    for i, step in enumerate(steps):
        if sent >= after:
            return steps[:i], steps[i:]
        sent += isinstance(step, bytes)
    return steps, []


def cut(reply: StreamReply, after: int) -> StreamReply:
    """Send the first `after` events, then drop the connection without the final chunk."""
    return _Wrapped(reply, lambda steps: _split(steps, after)[0] + [_CUT])


def truncated(reply: StreamReply, after: int) -> StreamReply:
    """Send the first `after` events, then end the response cleanly: no finish chunk, no [DONE]."""
    return _Wrapped(reply, lambda steps: _split(steps, after)[0])


def gated(reply: StreamReply, after: int, gate: threading.Event) -> StreamReply:
    """Send `after` events, wait for `gate` (set by the test, or by server stop), then the rest."""
    def rewrite(steps: list[Step]) -> list[Step]:
        head, tail = _split(steps, after)
        return head + [gate] + tail
    return _Wrapped(reply, rewrite)


def slow(reply: StreamReply, seconds_per_event: float) -> StreamReply:
    """Pause `seconds_per_event` before every event."""
    pause = float(seconds_per_event)
    return _Wrapped(reply, lambda steps: [x for s in steps
                                          for x in ((pause, s) if isinstance(s, bytes) else (s,))])


DATA_INSPECTION_FAILED = {"error": {"message": "Output data may contain inappropriate content.",
                                    "type": "data_inspection_failed", "param": None,
                                    "code": "data_inspection_failed"}}


def midstream_error(reply: StreamReply, after: int,
                    error_body: dict[str, Any] = DATA_INSPECTION_FAILED) -> StreamReply:
    """Send `after` events, then `data: {"error": ...}`, then end the stream cleanly (no [DONE])."""
    body = error_body if set(error_body) == {"error"} else {"error": error_body}
    return _Wrapped(reply, lambda steps: _split(steps, after)[0] + [_sse(body)])


def raw(status: int, body: bytes = b"", headers: Headers = None) -> Reply:
    """Any response with a Content-Length body (Content-Type defaults to application/json)."""
    return Reply(lambda conn, req: conn.send(status, body, headers))


def json_reply(body: Any, status: int = 200, headers: Headers = None) -> Reply:
    """A JSON response, e.g. for a route()."""
    return raw(status, _dumps(body), headers)


def error(status: int, body: dict[str, Any] | str, *, sse: bool = False, headers: Headers = None) -> Reply:
    """An HTTP error; with sse the body is framed `data: ...` as text/event-stream."""
    data = body.encode() if isinstance(body, str) else _dumps(body)
    if sse:
        return raw(status, b"data: " + data + b"\n\n",
                   {"Content-Type": "text/event-stream; charset=utf-8", **(headers or {})})
    return raw(status, data, headers)


_DASHSCOPE_ERRORS = {  # code: (status, type, message)
    "invalid_api_key": (401, "invalid_request_error", "Incorrect API key provided. "),
    "limit_requests": (429, "limit_requests", "Requests rate limit exceeded, please try again later."),
    "Arrearage": (400, "Arrearage", "Access denied, please make sure your account is in good standing."),
    "data_inspection_failed": (400, "data_inspection_failed", "Input data may contain inappropriate content."),
    "model_not_found": (404, "invalid_request_error",
                        "The model `qwen-nonexistent` does not exist or you do not have access to it."),
    "invalid_parameter_error": (400, "invalid_request_error", "Range of input length should be [1, 129024]"),
    "Throttling.AllocationQuota": (429, "Throttling.AllocationQuota",
                                   "Allocated quota exceeded, please increase your quota limit."),
    "AllocationQuota.FreeTierOnly": (403, "AllocationQuota.FreeTierOnly",
                                     "The free tier of the model has been exhausted. If you wish to continue access "
                                     "the model on a paid basis, please disable the \"use free tier only\" mode in "
                                     "the management console."),
}
_ZHIPU_ERRORS = {  # code: (status, message)
    "1000": (401, "身份验证失败。"),
    "1002": (401, "Authorization Token非法，请确认Authorization Token正确传递。"),
    "1113": (429, "您的账户已欠费，请充值后重试。"),
    "1211": (400, "模型不存在，请检查模型代码。"),
    "1261": (400, "Prompt 超长"),
    "1301": (400, "系统检测到输入或生成内容可能包含不安全或敏感内容，请您避免输入易产生敏感内容的提示语，感谢您的配合。"),
    "1302": (429, "您当前使用该API的并发数过高，请降低并发，或联系客服增加限额。"),
    "1303": (429, "您当前使用该API的频率过高，请降低频率，或联系客服增加限额。"),
    "1304": (429, "该API的当日调用次数已达到上限，如需更多次数，请联系客服购买。"),
    "1305": (429, "当前API请求过多，请稍后重试。"),
    "1308": (429, "已达到使用上限，您的额度将在稍后重置。"),
}


def dashscope_error(code: str, *, sse: bool = False, headers: Headers = None,
                    request_id: str = "fake-request-id") -> Reply:
    """A documented DashScope error: {"error": {message, type, param, code}, "request_id"} ("" leaves it out)."""
    status, typ, message = _DASHSCOPE_ERRORS[code]
    body: dict[str, Any] = {"error": {"message": message, "type": typ, "param": None, "code": code}}
    if request_id:
        body["request_id"] = request_id
    return error(status, body, sse=sse, headers=headers)


def zhipu_error(code: str, *, headers: Headers = None, request_id: str = "") -> Reply:
    """A documented Zhipu error: {"error": {"code": "<string>", "message"}} (+contentFilter for 1301, +id if given)."""
    status, message = _ZHIPU_ERRORS[code]
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if code == "1301":
        body["contentFilter"] = [{"level": 1, "role": "user"}]
    if request_id:
        body["id"] = request_id
    return error(status, body, headers=headers)


def hang() -> Reply:
    """Accept the request and send nothing until the server stops."""
    return Reply(lambda conn, req: conn.hang())


def close_immediately() -> Reply:
    """Close the connection without any response."""
    return Reply(lambda conn, req: conn.abort())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls
        self.server.fake._track(self.connection, True)

    def handle(self) -> None:
        with contextlib.suppress(OSError):  # the client went away (BrokenPipe, ConnectionReset, ...)
            super().handle()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.fake._track(self.connection, False)

    def _any(self) -> None:
        headers: dict[str, str] = {}
        for k, v in self.headers.items():
            headers[k.lower()] = f"{headers[k.lower()]}, {v}" if k.lower() in headers else v
        n = int(self.headers.get("Content-Length") or 0)
        req = RecordedRequest(self.command, self.path, headers, self.rfile.read(n) if n else b"")
        fake, conn = self.server.fake, _Conn(self, self.server.fake)
        try:
            fake._pick(req).write(conn, req)
        except OSError:
            self.close_connection = True
        except Exception:
            fake.errors.append(traceback.format_exc())
            if conn.started:
                conn.abort()
            else:
                conn.send(500, _dumps({"error": {"message": "fakeserver crashed", "detail": fake.errors[-1]}}))
        finally:
            fake._done()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.fake.errors.append(traceback.format_exc())


class FakeServer:
    """Scripted OpenAI-compatible chat server on 127.0.0.1 (ephemeral port) in a daemon thread."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.errors: list[str] = []  # tracebacks of fakeserver's own failures
        self.responses_done = 0
        self._queue: deque[Reply] = deque()
        self._routes: list[tuple[str, Callable[[RecordedRequest], Reply]]] = []
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._gates: set[threading.Event] = set()
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:PORT."""
        assert self._httpd is not None, "FakeServer not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def pending(self) -> int:
        """Number of queued replies not yet used."""
        with self._cond:
            return len(self._queue)

    def start(self) -> FakeServer:
        """Bind an ephemeral port and serve in a daemon thread."""
        self._stopping.clear()
        self._httpd = _HTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.fake = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01},
                                        name="fakeserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Release gates and hung replies, drop open connections, close the port."""
        if self._httpd is None:
            return
        self._stopping.set()
        with self._cond:
            for gate in self._gates:
                gate.set()
            conns = list(self._conns)
        self._httpd.shutdown()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=2)
        self._httpd = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def queue(self, *replies: Reply) -> FakeServer:
        """Append replies for the next chat-completions POSTs (FIFO)."""
        with self._cond:
            self._queue.extend(replies)
        return self

    def route(self, path_suffix: str, handler: Callable[[RecordedRequest], Reply]) -> None:
        """Answer any request whose path (without query) ends with path_suffix; newest route wins."""
        with self._cond:
            self._routes.insert(0, (path_suffix, handler))

    def reset(self) -> None:
        """Forget queued replies, recorded requests and errors (routes stay)."""
        with self._cond:
            self._queue.clear()
            self.requests.clear()
            self.errors.clear()
            self.responses_done = 0

    def wait_requests(self, n: int, timeout: float = 5) -> list[RecordedRequest]:
        """Block until at least n requests were recorded; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= n, timeout):
                got = [f"{r.method} {r.path}" for r in self.requests]
                raise TimeoutError(f"fakeserver: wanted {n} requests, got {got}")
            return list(self.requests)

    def wait_responses(self, n: int, timeout: float = 5) -> None:
        """Block until at least n responses were completely written or aborted; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.responses_done >= n, timeout):
                raise TimeoutError(f"fakeserver: wanted {n} finished responses, got {self.responses_done}")

    def _pick(self, req: RecordedRequest) -> Reply:
        path = urlsplit(req.path).path
        with self._cond:
            self.requests.append(req)
            self._cond.notify_all()
            handler = next((h for suffix, h in self._routes if path.endswith(suffix)), None)
            if handler is None and req.method == "POST" and path.endswith("/chat/completions"):
                if self._queue:
                    return self._queue.popleft()
                return error(500, {"error": {"message": "fakeserver: no scripted reply",
                                             "type": "fakeserver", "code": "fakeserver"}})
        if handler is not None:
            return handler(req)
        return error(404, {"error": {"message": f"fakeserver: no route for {req.method} {req.path}"}})

    def _done(self) -> None:
        with self._cond:
            self.responses_done += 1
            self._cond.notify_all()

    def _wait_gate(self, gate: threading.Event) -> None:
        with self._cond:
            self._gates.add(gate)
        if self._stopping.is_set():
            gate.set()
        gate.wait()
        with self._cond:
            self._gates.discard(gate)

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._cond:
            (self._conns.add if add else self._conns.discard)(sock)


def completions(server: FakeServer) -> list[RecordedRequest]:
    """The chat-completions requests the server received, in order."""
    return [r for r in server.requests if r.path.endswith("/chat/completions")]
