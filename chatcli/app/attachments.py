"""Images, video frames and files sent with a message (`--image`, `--video`, `--file`; /image, /video, /file).

Paths and URLs are checked when given (`image`, `video`, `document`), and the user message is
built when it is sent (`build_content`), after every limit of the provider in use was checked.
Only regular files are attached, and each is read once when sending, never past its limit: the
bytes read are the bytes sent (see chatcli.app.localfiles).

- an image is an OpenAI-style `image_url` part; a local file becomes a `data:` URL whose MIME
  type is sniffed from its first bytes, so a misnamed file works and a non-image is refused;
- every `--video` value is one frame (an image, or a directory of them in name order); all the
  frames form one DashScope `{"type": "video", "video": [...]}` part;
- text and code files go into the text, fenced and named, on any provider;
- other documents (pdf, docx, ...) are uploaded by the provider (`Provider.upload_document`):
  DashScope answers a file id, kept as a `fileid` part that `messages.api_messages` sends as a
  `fileid://` system message; Zhipu answers the extracted text, added like a text file.

Parts are ordered media first, then the text, as DashScope's vision examples do.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatcli.app.inputs import MAX_STDIN, decode_text, human_size
from chatcli.app.localfiles import HEAD, LocalFile, TooLarge, snapshot
from chatcli.core.messages import FILEID_PART, content_text
from chatcli.errors import UsageError
from chatcli.providers.capabilities import MB, Capabilities, DocumentFile

if TYPE_CHECKING:
    from chatcli.providers.base import Provider

_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                (b"GIF89a", "image/gif"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"avif")
_DOCUMENT_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # pdf; zip (docx, xlsx, epub...); old Office
DOCUMENT_SUFFIXES = {".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".epub", ".mobi",
                     ".odt", ".ods", ".odp"}
_VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".flv", ".wmv", ".m4v", ".3gp")
UPLOAD_NOTICE = 10 * 1024 * 1024  # say "uploading ..." for documents at least this large
_MEDIA_MAX = 20 * MB  # an image or frame when the provider names no limit: the largest any takes (OpenAI's)


@dataclass(frozen=True)
class Attachment:
    """One image, video frame or file to send with the next message."""

    kind: str  # "image", "frame" (of a video) or "file"
    source: str  # a URL as given, or a local file's path
    size: int = 0  # bytes, for local files
    mime: str = ""  # local images: the sniffed MIME type

    @property
    def is_url(self) -> bool:
        return is_url(self.source)

    @property
    def name(self) -> str:
        """What the user calls it: the file name, or the URL (shortened)."""
        if not self.is_url:
            return os.path.basename(self.source)
        return self.source if len(self.source) <= 60 else self.source[:59] + "…"

    def label(self) -> str:
        """E.g. `image cat.png (12.3 KB)`."""
        return f"{self.kind} {self.name}" + (f" ({human_size(self.size)})" if not self.is_url else "")


def is_url(value: str) -> bool:
    """An http(s) URL or a data: URL (sent as is), rather than a local path."""
    return value.startswith(("http://", "https://", "data:"))


# --- reading what the user named -------------------------------------------------------------

def image(value: str, kind: str = "image") -> Attachment:
    """An image: a URL as is, or a readable local image file (any name; the bytes decide)."""
    if is_url(value):
        if value.startswith("data:") and not value.startswith("data:image/"):
            raise UsageError(f"{_brief(value)} is a data: URL but not an image")
        return Attachment(kind, value)
    with LocalFile(value) as f:
        path, size, head = f.path, f.size, f.head
    mime = image_type(head)
    if mime is None:
        what = ("; --video takes the frames of one video (image files or URLs, or a directory of them), "
                "not a video file") if kind == "frame" else " (PNG, JPEG, GIF, WebP, BMP, TIFF or HEIC)"
        raise UsageError(f"{value} is not an image{what}")
    return Attachment(kind, str(path), size, mime)


def video(value: str) -> list[Attachment]:
    """The frames one --video value adds: an image URL or file, or a directory's images in name order."""
    if is_url(value):
        if value.split("?", 1)[0].lower().endswith(_VIDEO_SUFFIXES):
            raise UsageError(f"{_brief(value)} is a video file; --video takes the frames of one video "
                             "(image URLs or files, or a directory of them)")
        return [Attachment("frame", value)]
    path = Path(value).expanduser()
    if not path.is_dir():
        return [image(value, "frame")]
    frames = []
    for entry in sorted(path.iterdir(), key=lambda p: _natural(p.name)):
        if entry.is_file() and not entry.name.startswith("."):  # a stat: FIFOs, devices... skipped unopened
            try:
                frames.append(image(str(entry), "frame"))
            except UsageError:
                continue  # not an image: a directory of frames may hold other files
    if not frames:
        raise UsageError(f"{value} has no image files to use as video frames")
    return frames


def document(value: str) -> Attachment:
    """A readable local file; whether it is text or a document to upload is decided when sending."""
    if is_url(value):
        raise UsageError(f"--file takes a local file, not a URL: {_brief(value)}")
    with LocalFile(value) as f:
        return Attachment("file", str(f.path), f.size)


def collect(images: Iterable[str] = (), videos: Iterable[str] = (), files: Iterable[str] = ()) -> list[Attachment]:
    """Everything given on the command line, checked (UsageError naming the first bad one)."""
    found = [image(v) for v in images]
    for v in videos:
        found += video(v)
    return found + [document(v) for v in files]


def image_type(head: bytes) -> str | None:
    """An image's MIME type from its first bytes (whatever the file is called); None if it is no image."""
    for magic, mime in _IMAGE_MAGIC:
        if head.startswith(magic):
            return mime
    if head.startswith(b"BM") and head[6:10] == b"\x00\x00\x00\x00":  # BMP: reserved fields are zero
        return "image/bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "image/avif" if head[8:12] == b"avif" else "image/heic"
    return None


# --- building the message ------------------------------------------------------------------

def build_content(text: str, attachments: Sequence[Attachment], provider: Provider, model: str, *,
                  text_budget: int = MAX_STDIN) -> str | list[dict[str, Any]]:
    """The user message content: `text` plus the attachments, checked against the provider first.

    Each local file is read once, within its limit, and what was read is what is sent; all are
    read and checked before any upload, so a bad attachment sends nothing. `text_budget` is what
    text files may add, in bytes (what piped input left of the shared limit).
    """
    caps = provider.capabilities(model)
    media = [a for a in attachments if a.kind in ("image", "frame")]
    for att in media:
        what = "images" if att.kind == "image" else "video frames"
        refusal = caps.images if att.kind == "image" else caps.video
        if isinstance(refusal, str):
            raise UsageError(f"{provider.name}: cannot send {what} ({att.name}): {refusal}")
    urls = [(att, _url(att, caps, provider.name)) for att in media]
    texts, documents = _read_files([a for a in attachments if a.kind == "file"], caps, provider.name, text_budget)

    parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": url}}
                                   for att, url in urls if att.kind == "image"]
    frames = [url for att, url in urls if att.kind == "frame"]
    if frames:
        parts.append({"type": "video", "video": frames})
    blocks = [fenced(name, body) for name, body in texts]
    file_ids: list[dict[str, Any]] = []
    for doc in documents:  # uploads last: whatever else could fail has been read by now
        if len(doc.data) >= UPLOAD_NOTICE:
            provider.notify(f"uploading {doc.name} ({human_size(len(doc.data))}) to {provider.name}…")
        uploaded = provider.upload_document(doc, model)
        if uploaded.file_id:
            file_ids.append({"type": FILEID_PART, "file_id": uploaded.file_id, "name": doc.name})
        if uploaded.text is not None:
            blocks.append(fenced(f"{doc.name} (extracted text)", uploaded.text))
    full = "\n\n".join([text, *blocks]) if text else "\n\n".join(blocks)
    if not parts and not file_ids:
        return full
    return [*parts, *file_ids, {"type": "text", "text": full}]


def _url(att: Attachment, caps: Capabilities, provider: str) -> str:
    """What an image part carries: the URL, or the local file (read once, within the limit) as a data: URL."""
    if att.is_url:
        return att.source
    limit = caps.images if isinstance(caps.images, int) else _MEDIA_MAX
    try:
        data = snapshot(att.source, limit)
    except TooLarge as e:
        raise UsageError(f"{att.name} is too large: {human_size(e.size)} "
                         f"({provider} takes images up to {human_size(limit)})") from None
    mime = image_type(data[:HEAD])  # from the bytes sent, which may have changed since it was attached
    if mime is None:
        raise UsageError(f"{att.name} is no longer an image (it changed since it was attached)")
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _read_files(files: list[Attachment], caps: Capabilities, provider: str,
                budget: int) -> tuple[list[tuple[str, str]], list[DocumentFile]]:
    """((name, text) of the text files, documents to upload), each read once; UsageError past a limit."""
    texts, documents, total = [], [], MAX_STDIN - budget  # piped input counts against the same limit
    for att in files:
        with LocalFile(att.source) as f:
            if _is_document(f.head, att.source):
                documents.append(_document(att, f, caps, provider))
                continue
            try:
                data = f.read(MAX_STDIN)
            except TooLarge as e:
                raise UsageError(f"{att.name} is too large to include as text: {human_size(e.size)} "
                                 f"(limit {human_size(MAX_STDIN)})") from None
        total += len(data)
        if total > MAX_STDIN:
            raise UsageError(f"text files and piped input are too large together: {human_size(total)} "
                             f"(limit {human_size(MAX_STDIN)}); {att.name} is {human_size(len(data))}")
        texts.append((att.name, _text(att, data)))
    return texts, documents


def _document(att: Attachment, f: LocalFile, caps: Capabilities, provider: str) -> DocumentFile:
    """A document to upload, read whole within the provider's limit."""
    if isinstance(caps.documents, str):
        raise UsageError(f"{provider}: cannot read {att.name}: {caps.documents}")
    try:
        data = f.read(caps.documents)
    except TooLarge as e:
        raise UsageError(f"{att.name} is too large to upload: {human_size(e.size)} "
                         f"({provider} takes documents up to {human_size(caps.documents)})") from None
    return DocumentFile.of(att.name, data)


def _is_document(head: bytes, name: str) -> bool:
    """A file to upload rather than include: a known document type, or binary data."""
    return (Path(name).suffix.lower() in DOCUMENT_SUFFIXES or head.startswith(_DOCUMENT_MAGIC)
            or b"\x00" in head or image_type(head) is not None)


def _text(att: Attachment, data: bytes) -> str:
    try:
        return decode_text(data, att.name)
    except UsageError:
        raise UsageError(f"{att.name} is not text in UTF-8 or GB18030, nor a document type "
                         f"({', '.join(sorted(DOCUMENT_SUFFIXES))})") from None


def fenced(name: str, text: str) -> str:
    """A named file's text in a fence longer than any backtick run inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    lang = Path(name).suffix.lstrip(".").lower()
    body = text if text.endswith("\n") else text + "\n"
    return f"File: {name}\n{fence}{lang if lang.isalnum() else ''}\n{body}{fence}"


def describe(content: Any) -> str:
    """Message content for a listing: the text, with `[image]`-style marks for the other parts."""
    return content_text(content, marks=True)


def _natural(name: str) -> list[Any]:
    """Sort key that puts frame2 before frame10."""
    return [(0, int(s), "") if s.isdigit() else (1, 0, s.lower()) for s in re.split(r"(\d+)", name)]


def _brief(value: str) -> str:
    return value if len(value) <= 60 else value[:59] + "…"


def path_argument(arg: str) -> str:
    """A path typed after a slash command: quotes and backslash-escaped spaces (from drag and drop) removed."""
    arg = arg.strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "'\"":
        return arg[1:-1]
    if "\\" in arg and not os.path.exists(arg):
        import shlex

        try:
            words = shlex.split(arg)
        except ValueError:
            return arg
        if len(words) == 1:
            return words[0]
    return arg


def listing(attached: Sequence[Attachment]) -> str:
    """What is queued for the next message, one line each (video frames summed up)."""
    if not attached:
        return "nothing attached; /image, /video and /file attach to the next message"
    lines = [f"  {a.label()}" for a in attached if a.kind != "frame"]
    frames = [a for a in attached if a.kind == "frame"]
    if frames:
        lines.append(f"  video: {len(frames)} frame{'s' if len(frames) > 1 else ''} "
                     f"({human_size(sum(a.size for a in frames))})")
    return "attached to the next message:\n" + "\n".join(lines)
