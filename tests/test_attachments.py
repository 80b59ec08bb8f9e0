"""Images, video frames and files with a message: the pure helpers, then `chat ask` and the REPL end to end."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import pytest

from chatcli.app import attachments
from chatcli.app.attachments import Attachment
from chatcli.app.inputs import MAX_STDIN
from chatcli.core.messages import ChatRequest, Message
from chatcli.errors import UsageError
from chatcli.providers.capabilities import MB, Capabilities, DocumentFile, UploadedDocument, dashscope
from chatcli.providers.wire import api_messages
from tests import fakeserver as fs
from tests.fakeserver import completions


def png_bytes() -> bytes:
    """A valid 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


PNG = png_bytes()
PNG_URL = "data:image/png;base64," + base64.b64encode(PNG).decode()
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"


def one_line_error(proc, *needles):
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("chat: ") and "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


# --- the pure helpers ----------------------------------------------------------------------

@pytest.mark.parametrize("head, mime", [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (b"GIF89a\x01\x00", "image/gif"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"), (b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00", "image/bmp"),
    (b"BMW sales report\n", None), (b"hello", None), (PDF, None),
])
def test_image_type_sniffs_the_bytes(head, mime):
    assert attachments.image_type(head) == mime


def test_image_misnamed_file_uses_sniffed_type(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(PNG)
    att = attachments.image(str(path))
    assert (att.kind, att.mime, att.size, att.name) == ("image", "image/png", len(PNG), "photo.jpg")
    assert attachments.image("https://example.com/a.jpeg") == Attachment("image", "https://example.com/a.jpeg")


def test_image_errors_name_the_file(tmp_path):
    with pytest.raises(UsageError, match=r"cannot attach .*nope\.png: no such file"):
        attachments.image(str(tmp_path / "nope.png"))
    (tmp_path / "notes.png").write_text("not really an image")
    with pytest.raises(UsageError, match=r"notes\.png is not an image \(PNG, JPEG"):
        attachments.image(str(tmp_path / "notes.png"))
    with pytest.raises(UsageError, match="is a directory"):
        attachments.image(str(tmp_path))
    with pytest.raises(UsageError, match="data: URL but not an image"):
        attachments.image("data:text/plain;base64,aGk=")


def test_unreadable_file(tmp_path):
    path = tmp_path / "secret.png"
    path.write_bytes(PNG)
    path.chmod(0)
    try:
        if path.open("rb"):  # running as root: permissions do not apply
            pytest.skip("root can read anything")
    except PermissionError:
        pass
    with pytest.raises(UsageError, match=r"cannot read .*secret\.png: Permission denied"):
        attachments.image(str(path))


def test_video_directory_frames_in_natural_order(tmp_path):
    for name in ("frame10.png", "frame2.png", "frame1.jpg", "notes.txt", ".DS_Store"):
        (tmp_path / name).write_bytes(PNG if name.endswith((".png", ".jpg")) else b"x")
    frames = attachments.video(str(tmp_path))
    assert [Path(f.source).name for f in frames] == ["frame1.jpg", "frame2.png", "frame10.png"]
    assert {f.kind for f in frames} == {"frame"}


def test_video_refuses_video_files_and_empty_directories(tmp_path):
    with pytest.raises(UsageError, match="is a video file; --video takes the frames"):
        attachments.video("https://example.com/clip.mp4?x=1")
    movie = tmp_path / "clip.mp4"
    movie.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 20)
    with pytest.raises(UsageError, match=r"clip\.mp4 is not an image; --video takes the frames of one video"):
        attachments.video(str(movie))
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="has no image files"):
        attachments.video(str(tmp_path / "empty"))
    assert attachments.video("https://example.com/f1.jpg") == [Attachment("frame", "https://example.com/f1.jpg")]


def test_fence_is_longer_than_any_backtick_run_inside():
    assert attachments.fenced("a.py", "print(1)") == "File: a.py\n```py\nprint(1)\n```"
    block = attachments.fenced("README.md", "x\n````\ncode\n````\n")
    assert block.startswith("File: README.md\n`````md\n") and block.endswith("\n`````")
    assert attachments.fenced("Makefile", "all:\n") == "File: Makefile\n```\nall:\n```"


def test_path_argument_unquotes():
    assert attachments.path_argument('"my file.png"') == "my file.png"
    assert attachments.path_argument("my\\ file.png") == "my file.png"
    assert attachments.path_argument(" plain.png ") == "plain.png"


class FakeProvider:
    """Just what build_content uses: a name, capabilities, uploads and notices."""

    def __init__(self, caps: Capabilities, upload: UploadedDocument | None = None) -> None:
        self.name, self.caps, self.upload, self.uploaded, self.notices = "fake", caps, upload, [], []

    def capabilities(self, model: str) -> Capabilities:
        return self.caps

    def upload_document(self, doc: DocumentFile, model: str) -> UploadedDocument:
        self.uploaded.append(doc.name)
        assert self.upload is not None
        return self.upload

    def notify(self, text: str) -> None:
        self.notices.append(text)


def test_build_text_files_only_gives_a_string(tmp_path):
    (tmp_path / "main.py").write_text("print('hi')\n")
    (tmp_path / "notes.txt").write_bytes("中文笔记".encode("gb18030"))
    files = [attachments.document(str(tmp_path / n)) for n in ("main.py", "notes.txt")]
    content = attachments.build_content("review this", files, FakeProvider(Capabilities()), "m")
    assert content == ("review this\n\nFile: main.py\n```py\nprint('hi')\n```\n\n"
                       "File: notes.txt\n```txt\n中文笔记\n```")


def test_build_media_first_then_text(tmp_path):
    (tmp_path / "cat.png").write_bytes(PNG)
    (tmp_path / "f1.png").write_bytes(PNG)
    found = attachments.collect(images=[str(tmp_path / "cat.png"), "https://x.test/dog.jpg"],
                                videos=[str(tmp_path / "f1.png"), "https://x.test/f2.jpg"])
    content = attachments.build_content("what?", found, FakeProvider(dashscope("qwen-vl-max")), "qwen-vl-max")
    assert content == [
        {"type": "image_url", "image_url": {"url": PNG_URL}},
        {"type": "image_url", "image_url": {"url": "https://x.test/dog.jpg"}},
        {"type": "video", "video": [PNG_URL, "https://x.test/f2.jpg"]},
        {"type": "text", "text": "what?"},
    ]


def test_build_checks_everything_before_uploading(tmp_path):
    (tmp_path / "a.pdf").write_bytes(PDF)
    (tmp_path / "big.png").write_bytes(PNG + b"\x00" * (5 * MB))
    provider = FakeProvider(Capabilities(images=5 * MB, documents=50 * MB), UploadedDocument("a.pdf", text="x"))
    found = attachments.collect(images=[str(tmp_path / "big.png")], files=[str(tmp_path / "a.pdf")])
    with pytest.raises(UsageError, match=r"big\.png is too large: 5\.0 MB \(fake takes images up to 5\.0 MB\)"):
        attachments.build_content("q", found, provider, "m")
    assert provider.uploaded == []


def test_build_refusals_say_why(tmp_path):
    (tmp_path / "a.pdf").write_bytes(PDF)
    (tmp_path / "f.png").write_bytes(PNG)
    with pytest.raises(UsageError, match=r"fake: cannot read a\.pdf: only DashScope \(a qwen-long model\) and Zhipu"):
        attachments.build_content("q", [attachments.document(str(tmp_path / "a.pdf"))],
                                  FakeProvider(Capabilities()), "m")
    with pytest.raises(UsageError, match=r"on DashScope only qwen-long reads documents .*model is qwen-plus"):
        attachments.build_content("q", [attachments.document(str(tmp_path / "a.pdf"))],
                                  FakeProvider(dashscope("qwen-plus")), "qwen-plus")
    with pytest.raises(UsageError, match=r"fake: cannot send video frames \(f\.png\): video frames are a DashScope"):
        attachments.build_content("q", attachments.video(str(tmp_path / "f.png")), FakeProvider(Capabilities()), "m")


def test_build_text_limit_is_shared_with_piped_input(tmp_path):
    (tmp_path / "half.log").write_text("x" * (MAX_STDIN // 2 + 1))
    (tmp_path / "big.log").write_text("x" * (MAX_STDIN + 1))
    half = attachments.document(str(tmp_path / "half.log"))
    with pytest.raises(UsageError, match=r"big\.log is too large to include as text: 1\.0 MB \(limit 1\.0 MB\)"):
        attachments.build_content("q", [attachments.document(str(tmp_path / "big.log"))],
                                  FakeProvider(Capabilities()), "m")
    with pytest.raises(UsageError, match=r"text files and piped input are too large together: 1\.0 MB "
                                         r"\(limit 1\.0 MB\); half\.log is 512\.0 KB"):
        attachments.build_content("q", [half, half], FakeProvider(Capabilities()), "m")
    with pytest.raises(UsageError, match="too large together"):
        attachments.build_content("q", [half], FakeProvider(Capabilities()), "m", text_budget=MAX_STDIN // 4)


def test_build_documents(tmp_path):
    (tmp_path / "a.pdf").write_bytes(PDF)
    doc = [attachments.document(str(tmp_path / "a.pdf"))]
    by_id = attachments.build_content("sum up", doc, FakeProvider(dashscope("qwen-long"),
                                      UploadedDocument("a.pdf", file_id="file-fe-1")), "qwen-long")
    assert by_id == [{"type": "fileid", "file_id": "file-fe-1", "name": "a.pdf"}, {"type": "text", "text": "sum up"}]
    extracted = attachments.build_content("sum up", doc, FakeProvider(Capabilities(documents=50 * MB),
                                          UploadedDocument("a.pdf", text="The text.")), "glm-4-long")
    assert extracted == "sum up\n\nFile: a.pdf (extracted text)\n```\nThe text.\n```"


def test_api_messages_turn_file_ids_into_a_system_message_and_copy_parts():
    user = Message("user", [{"type": "fileid", "file_id": "file-fe-1", "name": "a.pdf"},
                            {"type": "fileid", "file_id": "file-fe-2", "name": "b.docx"},
                            {"type": "text", "text": "compare"}])
    sent = api_messages([Message("system", "Be brief."), user])
    assert sent == [{"role": "system", "content": "Be brief."},
                    {"role": "system", "content": "fileid://file-fe-1,fileid://file-fe-2"},
                    {"role": "user", "content": "compare"}]
    image = Message("user", [{"type": "image_url", "image_url": {"url": PNG_URL}}, {"type": "text", "text": "?"}])
    d = image.to_api()
    d["content"][0]["image_url"]["url"] = "changed"
    assert image.content[0]["image_url"]["url"] == PNG_URL


def test_describe_marks_parts():
    content = [{"type": "image_url", "image_url": {"url": "x"}}, {"type": "video", "video": ["a", "b"]},
               {"type": "fileid", "file_id": "f", "name": "a.pdf"}, {"type": "text", "text": "hi"}]
    assert attachments.describe(content) == "[image] [video: 2 frames] [document a.pdf] hi"
    assert attachments.describe("plain") == "plain"


def test_zhipu_sdk_strips_the_prefix_but_not_in_our_history(server):
    """The zhipuai SDK rewrites image parts in place (drop_prefix_image_data); Message.to_api hands it copies."""
    from chatcli.config import ProviderConfig
    from chatcli.providers.zhipu import ZhipuProvider

    server.queue(fs.zhipu_text(["a cat"]))
    provider = ZhipuProvider(ProviderConfig(name="zhipu", kind="zhipu", base_url=f"{server.url}/api/paas/v4",
                                            model="glm-4v-plus", api_key="k"))
    parts = [{"type": "image_url", "image_url": {"url": PNG_URL}}, {"type": "text", "text": "what is it?"}]
    history = [Message("user", parts)]
    list(provider.stream(ChatRequest(messages=history, model="glm-4v-plus")))
    (req,) = completions(server)
    assert req.json["messages"][0]["content"][0] == {"type": "image_url",
                                                    "image_url": {"url": base64.b64encode(PNG).decode()}}
    assert history[0].content[0]["image_url"]["url"] == PNG_URL


# --- chat ask, end to end --------------------------------------------------------------------

def test_ask_local_png_and_url_on_qwen_vl(chat, server, tmp_path):
    (tmp_path / "tiny.png").write_bytes(PNG)
    server.queue(fs.dashscope_text(["a pixel"]))
    proc = chat.run("ask", "-m", "qwen-vl-max", "--no-tools", "--image", str(tmp_path / "tiny.png"),
                    "--image", "https://example.com/dog.jpeg", "what are these?")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "a pixel\n"
    (req,) = completions(server)
    assert req.json["model"] == "qwen-vl-max"
    assert req.json["messages"] == [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": PNG_URL}},
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpeg"}},
        {"type": "text", "text": "what are these?"},
    ]}]


def test_ask_glm_4v_sends_bare_base64_and_saves_the_data_url(chat, server, tmp_path):
    (tmp_path / "tiny.png").write_bytes(PNG)
    server.queue(fs.zhipu_text(["一个像素"]))
    proc = chat.run("ask", "-p", "zhipu", "-m", "glm-4v-plus", "--no-tools", "--image", str(tmp_path / "tiny.png"),
                    "图里有什么")
    assert proc.returncode == 0, proc.stderr
    (req,) = completions(server)
    assert req.path == "/api/paas/v4/chat/completions"
    assert req.json["messages"] == [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": base64.b64encode(PNG).decode()}},  # the SDK dropped the prefix
        {"type": "text", "text": "图里有什么"},
    ]}]
    (row,) = json.loads(chat.run("sessions", "list", "--json").stdout)
    saved = json.loads(chat.run("sessions", "export", row["id"], "-f", "json").stdout)["messages"]
    assert saved[0]["content"] == [{"type": "image_url", "image_url": {"url": PNG_URL}},
                                   {"type": "text", "text": "图里有什么"}]
    shown = chat.run("sessions", "show", row["id"])
    assert shown.returncode == 0 and "图里有什么" in shown.stdout and "一个像素" in shown.stdout


def test_ask_video_frames_form_one_part(chat, server, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    (frames / "2.png").write_bytes(PNG)
    (frames / "1.png").write_bytes(PNG)
    server.queue(fs.dashscope_text(["a video"]))
    proc = chat.run("ask", "-m", "qwen-vl-max-latest", "--no-tools", "--video", "https://example.com/f0.jpg",
                    "--video", str(frames), "describe the video")
    assert proc.returncode == 0, proc.stderr
    assert completions(server)[0].json["messages"][0]["content"] == [
        {"type": "video", "video": ["https://example.com/f0.jpg", PNG_URL, PNG_URL]},
        {"type": "text", "text": "describe the video"},
    ]


def test_ask_video_refused_on_zhipu(chat, server):
    proc = chat.run("ask", "-p", "zhipu", "--video", "https://example.com/f0.jpg", "what happens?")
    assert proc.returncode == 2
    one_line_error(proc, "zhipu: cannot send video frames", "--video is for DashScope")
    assert server.requests == []


def test_ask_text_file_fenced_and_named_after_piped_input(chat, server, tmp_path):
    (tmp_path / "app.py").write_text("x = '```'\n")
    server.queue(fs.dashscope_text(["ok"]))
    proc = chat.run("ask", "--no-tools", "--file", str(tmp_path / "app.py"), "explain", input="log line\n")
    assert proc.returncode == 0, proc.stderr
    assert completions(server)[0].json["messages"] == [{"role": "user", "content":
        "explain\n\n```\nlog line\n```\n\nFile: app.py\n````py\nx = '```'\n````"}]


def test_ask_missing_file_sends_nothing(chat, server, tmp_path):
    for flag in ("--image", "--video", "--file"):
        proc = chat.run("ask", flag, str(tmp_path / "gone.png"), "hi")
        assert proc.returncode == 2, proc.stderr
        one_line_error(proc, "gone.png", "no such file")
    assert server.requests == []


def test_ask_too_large_says_sizes(chat, server, tmp_path):
    (tmp_path / "huge.txt").write_text("y" * (MAX_STDIN + 10))
    proc = chat.run("ask", "--file", str(tmp_path / "huge.txt"), "summarize")
    assert proc.returncode == 2
    one_line_error(proc, "huge.txt is too large to include as text: 1.0 MB (limit 1.0 MB)")
    (tmp_path / "big.png").write_bytes(PNG + b"\x00" * (5 * MB + 1))
    proc = chat.run("ask", "-p", "zhipu", "-m", "glm-4v-plus", "--image", str(tmp_path / "big.png"), "what?")
    assert proc.returncode == 2
    one_line_error(proc, "big.png is too large: 5.0 MB (zhipu takes images up to 5.0 MB)")
    assert server.requests == []


def dashscope_files(server, file_id="file-fe-abc123"):
    """The files API as DashScope answers it."""
    server.route("/compatible-mode/v1/files", lambda req: fs.json_reply({
        "id": file_id, "object": "file", "bytes": len(req.body), "created_at": 1732000000,
        "filename": "report.pdf", "purpose": "file-extract", "status": "processed"}))


def test_ask_pdf_on_qwen_long_by_file_id(chat, server, tmp_path):
    (tmp_path / "report.pdf").write_bytes(PDF)
    dashscope_files(server)
    server.queue(fs.dashscope_text(["a summary"]))
    proc = chat.run("ask", "-m", "qwen-long", "-s", "You are a helpful assistant.", "--no-tools",
                    "--file", str(tmp_path / "report.pdf"), "这篇文章讲了什么?")
    assert proc.returncode == 0, proc.stderr
    upload, chat_req = server.requests
    assert (upload.method, upload.path) == ("POST", "/compatible-mode/v1/files")
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert b'name="purpose"\r\n\r\nfile-extract' in upload.body
    assert b'filename="report.pdf"' in upload.body and PDF in upload.body
    assert chat_req.json["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "system", "content": "fileid://file-fe-abc123"},
        {"role": "user", "content": "这篇文章讲了什么?"},
    ]


def test_ask_pdf_needs_qwen_long(chat, server, tmp_path):
    (tmp_path / "report.pdf").write_bytes(PDF)
    dashscope_files(server)
    proc = chat.run("ask", "--file", str(tmp_path / "report.pdf"), "summarize")
    assert proc.returncode == 2
    one_line_error(proc, "cannot read report.pdf", "only qwen-long reads documents", "-m qwen-long")
    assert server.requests == []


def test_ask_pdf_on_zhipu_adds_the_extracted_text(chat, server, tmp_path):
    (tmp_path / "report.pdf").write_bytes(PDF)
    server.route("/api/paas/v4/files", lambda req: fs.json_reply({
        "id": "1732-zp-file", "object": "file", "bytes": len(req.body), "created_at": 1732000000,
        "filename": "report.pdf", "purpose": "file-extract"}))
    server.route("/files/1732-zp-file/content", lambda req: fs.json_reply({
        "content": "第一章 营收增长 20%", "file_type": "application/pdf", "filename": "report.pdf",
        "title": "", "type": "file"}))
    server.route("/files/1732-zp-file", lambda req: fs.json_reply({"id": "1732-zp-file", "deleted": True}))
    server.queue(fs.zhipu_text(["增长 20%"]))
    proc = chat.run("ask", "-p", "zhipu", "-m", "glm-4-long", "--no-tools", "--file", str(tmp_path / "report.pdf"),
                    "营收如何?")
    assert proc.returncode == 0, proc.stderr
    upload, content, delete, chat_req = server.requests
    assert (upload.method, upload.path) == ("POST", "/api/paas/v4/files")
    assert b'name="purpose"\r\n\r\nfile-extract' in upload.body and PDF in upload.body
    assert (content.method, content.path) == ("GET", "/api/paas/v4/files/1732-zp-file/content")
    assert (delete.method, delete.path) == ("DELETE", "/api/paas/v4/files/1732-zp-file")
    assert chat_req.json["messages"] == [{"role": "user", "content":
        "营收如何?\n\nFile: report.pdf (extracted text)\n```\n第一章 营收增长 20%\n```"}]


def test_ask_pdf_on_a_plain_openai_server_is_refused(chat, server, tmp_path):
    (tmp_path / "report.pdf").write_bytes(PDF)
    proc = chat.run("ask", "-p", "local", "--file", str(tmp_path / "report.pdf"), "summarize")
    assert proc.returncode == 2
    one_line_error(proc, "local: cannot read report.pdf", "text and code files work with every provider")
    assert server.requests == []


def test_ask_upload_rejected_key_is_an_auth_error(chat, server, tmp_path):
    (tmp_path / "report.pdf").write_bytes(PDF)
    server.route("/compatible-mode/v1/files", lambda req: fs.dashscope_error("invalid_api_key"))
    proc = chat.run("ask", "-m", "qwen-long", "--file", str(tmp_path / "report.pdf"), "summarize")
    assert proc.returncode == 3
    one_line_error(proc, "qwen: authentication failed (HTTP 401, invalid_api_key)", "(uploading report.pdf)")
    assert completions(server) == []


def test_ask_native_dashscope_uploads_via_compatible_mode(chat, server, tmp_path):
    from tests.fake_dashscope import NativeReply, NativeService

    with chat.config.open("a") as f:
        f.write(f'\n[providers.dashscope]\nbase_url = "{server.url}/api/v1"\n')
    native = NativeService(server)
    (tmp_path / "report.pdf").write_bytes(PDF)
    dashscope_files(server, "file-fe-native")
    native.queue(NativeReply(["summary"]))
    proc = chat.run("ask", "-p", "dashscope", "-m", "qwen-long", "--no-tools", "--file", str(tmp_path / "report.pdf"),
                    "summarize")
    assert proc.returncode == 0, proc.stderr
    assert server.requests[0].path == "/compatible-mode/v1/files"
    assert native.requests[0].json["input"]["messages"] == [
        {"role": "system", "content": "fileid://file-fe-native"}, {"role": "user", "content": "summarize"}]
    (tmp_path / "tiny.png").write_bytes(PNG)
    proc = chat.run("ask", "-p", "dashscope", "--image", str(tmp_path / "tiny.png"), "what?")
    assert proc.returncode == 2
    one_line_error(proc, "dashscope: cannot send images", "use the qwen provider (compatible mode)")


# --- the REPL --------------------------------------------------------------------------------

def test_repl_image_then_message(chat, server, tmp_path):
    from tests.ptyharness import Tty

    (tmp_path / "tiny.png").write_bytes(PNG)
    tty = Tty(chat.env)
    try:
        tty.wait_prompt("qwen:qwen-plus>")
        tty.send(f"/image {tmp_path / 'missing.png'}\r")
        tty.wait_text("chat: cannot attach")
        tty.wait_prompt("qwen:qwen-plus>")
        tty.send(f"/image {tmp_path / 'tiny.png'}\r")
        tty.wait_text("attached image tiny.png (")
        tty.wait_prompt("qwen:qwen-plus>")
        server.queue(fs.dashscope_text(["one pixel"]))
        tty.send("what is this?\r")
        server.wait_responses(1)
        tty.wait_prompt("qwen:qwen-plus>")
        (req,) = completions(server)
        assert req.json["messages"][-1] == {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": PNG_URL}}, {"type": "text", "text": "what is this?"}]}
        server.queue(fs.dashscope_text(["again"]))
        tty.send("and now?\r")  # the attachment went with the first message only
        server.wait_responses(2)
        tty.wait_prompt("qwen:qwen-plus>")
        assert completions(server)[1].json["messages"][-1] == {"role": "user", "content": "and now?"}
        tty.send("/history\r")
        tty.wait_text("you\n[image] what is this?")
        tty.send("\x04")
        assert tty.wait_exit() == 0
    finally:
        tty.close()
