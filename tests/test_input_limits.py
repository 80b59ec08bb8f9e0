"""Inputs that never end, and the caps: endless stdin, FIFOs/devices/sockets as attachments, uploads as
snapshots, the weather service's response size, --max-tokens. All through the real program."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

from chatcli.app.inputs import MAX_STDIN
from chatcli.app.localfiles import LocalFile, TooLarge
from tests import fakeserver as fs
from tests.fakeserver import completions
from tests.test_attachments import PDF, PNG

TOO_LARGE = "stdin is too large"


def one_line_error(stderr: str, *needles: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("chat: ") and "Traceback" not in stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def run(chat, *args: str, stdin, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """`python -m chatcli ARGS` with stdin from any file object or descriptor."""
    proc = subprocess.run([sys.executable, "-m", "chatcli", *args], stdin=stdin, capture_output=True,
                          env=chat.env, timeout=timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode("utf-8", "replace"),
                                       proc.stderr.decode("utf-8", "replace"))


# --- stdin that never ends -------------------------------------------------------------------

def test_stdin_from_dev_zero_is_refused_at_once(chat, server):
    with open("/dev/zero", "rb") as zero:
        proc = run(chat, "ask", "hi", stdin=zero, timeout=20)
    assert proc.returncode == 2
    one_line_error(proc.stderr, TOO_LARGE, "still coming", "(limit 1.0 MB)", "through head")
    assert proc.stdout == "" and server.requests == []


def test_endless_pipe_is_refused(chat, server):
    yes = shutil.which("yes")
    writer = [yes] if yes else [sys.executable, "-c", "import sys\nwhile True: sys.stdout.buffer.write(b'y\\n' * 4096)"]
    producer = subprocess.Popen(writer, stdout=subprocess.PIPE)
    try:
        assert producer.stdout is not None
        proc = run(chat, "ask", "hi", stdin=producer.stdout, timeout=20)
    finally:
        producer.kill()
        producer.wait(timeout=10)
        if producer.stdout is not None:
            producer.stdout.close()
    assert proc.returncode == 2
    one_line_error(proc.stderr, TOO_LARGE, "still coming", "(limit 1.0 MB)")
    assert server.requests == []


def test_pipe_past_the_limit_is_refused_without_waiting_for_its_end(chat, server):
    """A slow producer that has passed the limit and stays open: refused, not waited for."""
    r, w = os.pipe()
    child = subprocess.Popen([sys.executable, "-m", "chatcli", "ask", "hi"], stdin=r, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=chat.env)
    os.close(r)
    writer = os.fdopen(w, "wb")

    def feed() -> None:
        try:
            writer.write(b"x" * (MAX_STDIN + 64 * 1024))  # blocks until the child has read most of it
            writer.flush()
        except BrokenPipeError:
            pass

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        out, err = child.communicate(timeout=20)  # the write end stays open all along
    finally:
        thread.join(timeout=10)
        try:
            writer.close()
        except BrokenPipeError:
            pass
    assert child.returncode == 2
    one_line_error(err.decode(), TOO_LARGE, "(limit 1.0 MB)")
    assert server.requests == []


def test_slow_pipe_that_ends_is_read_whole(chat, server):
    server.queue(fs.dashscope_text(["read it"]))
    r, w = os.pipe()
    child = subprocess.Popen([sys.executable, "-m", "chatcli", "ask", "--no-tools", "sum up"], stdin=r,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=chat.env)
    os.close(r)
    with os.fdopen(w, "wb") as writer:
        writer.write(b"a" * (200 * 1024) + b"\n")  # more than a pipe holds: returns once the child reads
        writer.flush()
        writer.write(b"THE END\n")  # written while the child is already reading
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert out == b"read it\n"
    (req,) = completions(server)
    sent = req.json["messages"][-1]["content"]
    assert sent.startswith("sum up\n\n```\n") and sent.endswith("a\nTHE END\n```")


def test_socket_stdin_reads_what_is_ready_and_does_not_wait_for_the_end(chat, server):
    server.queue(fs.dashscope_text(["ok"]))
    ours, theirs = socket.socketpair()
    try:
        ours.sendall(b"from a socket\n")
        proc = run(chat, "ask", "--no-tools", "what is this", stdin=theirs, timeout=20)  # ours stays open
    finally:
        ours.close()
        theirs.close()
    assert proc.returncode == 0, proc.stderr
    (req,) = completions(server)
    assert req.json["messages"][-1]["content"] == "what is this\n\n```\nfrom a socket\n```"


# --- FIFOs, devices and sockets as attachments ------------------------------------------------

@pytest.mark.parametrize("flag", ["--file", "--image", "--video"])
def test_fifo_attachment_is_refused_without_opening_it(chat, server, tmp_path, flag):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    proc = chat.run("ask", flag, str(fifo), "hi", timeout=20)  # opening the FIFO would block: TimeoutExpired
    assert proc.returncode == 2
    one_line_error(proc.stderr, f"cannot attach {fifo}: it is a named pipe (FIFO), not a regular file")
    assert server.requests == []


@pytest.mark.parametrize("flag", ["--file", "--image", "--video"])
def test_dev_zero_attachment_is_refused(chat, server, flag):
    proc = chat.run("ask", flag, "/dev/zero", "hi", timeout=20)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "cannot attach /dev/zero: it is a character device, not a regular file")
    assert server.requests == []


def test_socket_attachment_is_refused(chat, server):
    with tempfile.TemporaryDirectory() as short:  # a socket path must be short
        path = os.path.join(short, "s.sock")
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(path)
            proc = chat.run("ask", "--file", path, "hi", timeout=20)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "it is a socket, not a regular file")
    assert server.requests == []


def test_symlink_to_a_device_is_refused(chat, server, tmp_path):
    (tmp_path / "notes.txt").symlink_to("/dev/zero")
    proc = chat.run("ask", "--file", str(tmp_path / "notes.txt"), "hi", timeout=20)
    assert proc.returncode == 2
    one_line_error(proc.stderr, "it is a character device")
    assert server.requests == []


def test_fifo_among_video_frames_is_skipped_unopened(chat, server, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "1.png").write_bytes(PNG)
    os.mkfifo(frames / "2.png")
    server.queue(fs.dashscope_text(["one frame"]))
    proc = chat.run("ask", "-m", "qwen-vl-max", "--no-tools", "--video", str(frames), "what happens?", timeout=20)
    assert proc.returncode == 0, proc.stderr
    (part, _text) = completions(server)[0].json["messages"][-1]["content"]
    assert part["type"] == "video" and len(part["video"]) == 1


def test_repl_file_refuses_a_fifo_and_goes_on(chat, server, tmp_path):
    from tests.ptyharness import QWEN, Tty, say

    fifo = tmp_path / "log.txt"
    os.mkfifo(fifo)
    (tmp_path / "a.txt").write_text("real text\n")
    tty = Tty(chat.env)
    try:
        tty.wait_prompt(QWEN)
        tty.send(f"/file {fifo}\r")
        tty.wait_text("(FIFO),")  # one word: a long error line wraps at spaces
        tty.wait_prompt(QWEN)
        tty.send(f"/file {tmp_path / 'a.txt'}\r")
        tty.wait_text("attached file a.txt (")
        tty.wait_prompt(QWEN)
        say(tty, server, "read this", fs.dashscope_text(["done"]))
        (req,) = completions(server)
        assert req.json["messages"][-1]["content"] == "read this\n\nFile: a.txt\n```txt\nreal text\n```"
        tty.send("\x04")
        assert tty.wait_exit() == 0
    finally:
        tty.close()


# --- uploads are snapshots ---------------------------------------------------------------------

def test_upload_sends_the_bytes_read_once_even_if_the_file_grows(chat, server, tmp_path):
    """The file grows after the first attempt: the retry sends the same snapshot, not the new file."""
    doc = tmp_path / "report.pdf"
    doc.write_bytes(PDF)
    attempts: list[bytes] = []

    def files_api(req: fs.RecordedRequest) -> fs.Reply:
        boundary = req.headers["content-type"].split("boundary=", 1)[1].encode()
        attempts.append(req.body.replace(boundary, b"BOUNDARY"))
        if len(attempts) == 1:
            with doc.open("ab") as f:
                f.write(b"GROWN" * 100_000)
            return fs.dashscope_error("limit_requests", headers={"Retry-After": "0"})
        return fs.json_reply({"id": "file-fe-1", "object": "file", "purpose": "file-extract"})

    server.route("/compatible-mode/v1/files", files_api)
    server.queue(fs.dashscope_text(["summary"]))
    proc = chat.run("ask", "-m", "qwen-long", "--no-tools", "--file", str(doc), "summarize")
    assert proc.returncode == 0, proc.stderr
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert PDF in attempts[1] and b"GROWN" not in attempts[1]
    assert completions(server)[0].json["messages"][0] == {"role": "system", "content": "fileid://file-fe-1"}


def test_limit_is_enforced_on_what_is_read_not_on_the_size_at_attach_time(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text("small\n")
    with LocalFile(str(path)) as f:
        assert f.size == 6
        with path.open("ab") as grow:
            grow.write(b"x" * (2 * MAX_STDIN))
        with pytest.raises(TooLarge) as e:
            f.read(MAX_STDIN)
    assert e.value.size == 6 + 2 * MAX_STDIN


def test_image_that_grew_past_the_limit_is_refused_with_nothing_sent(chat, server, tmp_path):
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\x00" * (10 * 1024 * 1024 + 1))
    proc = chat.run("ask", "-m", "qwen-vl-max", "--image", str(big), "what?")
    assert proc.returncode == 2
    one_line_error(proc.stderr, "big.png is too large: 10.0 MB (qwen takes images up to 10.0 MB)")
    assert server.requests == []


# --- the weather service's response size -------------------------------------------------------

def endless_json() -> fs.Reply:
    """A 200 whose chunked body never ends (until the client goes away or the server stops)."""
    def write(conn, req) -> None:
        conn.h.send_response(200)
        conn.h.send_header("Content-Type", "application/json")
        conn.h.send_header("Transfer-Encoding", "chunked")
        conn.h.end_headers()
        block = b'{"results": [' + b'{"name": "x"}, ' * 4000
        chunk = b"%x\r\n%s\r\n" % (len(block), block)
        while not conn.fake._stopping.is_set():
            conn.h.wfile.write(chunk)  # OSError once the client has closed: the server handles it
    return fs.Reply(write)


@pytest.mark.parametrize("reply", [endless_json, lambda: fs.raw(200, b" " * (3 * 1024 * 1024))],
                         ids=["endless", "content-length"])
def test_weather_response_over_the_cap_is_a_tool_error(chat, server, reply):
    server.route("/v1/search", lambda req: reply())
    server.queue(fs.dashscope_tool_calls([("w1", "get_current_weather", '{"location": "杭州"}')]),
                 fs.dashscope_text(["the service misbehaved"]))
    proc = chat.run("ask", "weather in 杭州?", timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "the service misbehaved\n"
    (tool,) = [m for m in completions(server)[1].json["messages"] if m["role"] == "tool"]
    error = json.loads(tool["content"])["error"]
    assert "weather service sent more than 1 MB" in error and "stopped reading" in error


# --- --max-tokens upper bound --------------------------------------------------------------------

def test_max_tokens_above_the_bound_is_a_usage_error(chat, server):
    proc = chat.run("ask", "--max-tokens", "1000001", "hi")
    assert proc.returncode == 2
    one_line_error(proc.stderr, "--max-tokens must be at most 1,000,000 (got 1000001)")
    assert server.requests == []


def test_max_tokens_at_the_bound_is_sent(chat, server):
    server.queue(fs.dashscope_text(["ok"]))
    proc = chat.run("ask", "--no-tools", "--max-tokens", "1000000", "hi")
    assert proc.returncode == 0, proc.stderr
    assert completions(server)[0].json["max_tokens"] == 1_000_000


def test_max_tokens_above_the_bound_in_config_names_file_and_line(chat, server):
    text = chat.config.read_text().replace("[providers.qwen]\n", "[providers.qwen]\nmax_tokens = 5000000\n", 1)
    chat.config.write_text(text)
    proc = chat.run("ask", "hi")
    assert proc.returncode == 2
    lineno = text.splitlines().index("max_tokens = 5000000") + 1
    one_line_error(proc.stderr, f"config.toml:{lineno}:", "providers.qwen.max_tokens must be at most 1,000,000")
    assert server.requests == []


def test_help_names_the_bound(chat):
    proc = chat.run("ask", "--help")
    assert "1 to 1,000,000" in proc.stdout
