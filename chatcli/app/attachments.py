"""Images, video frames and files sent with a message (`--image`, `--video`, `--file`; /image, /video, /file).

Paths and URLs are checked when given (`image`, `video`, `document`), and the user message is
built when it is sent (`build_content`), after every limit of the provider in use was checked:

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
from chatcli.core.messages import FILEID_PART, content_text
from chatcli.errors import UsageError

if TYPE_CHECKING:
    from chatcli.providers.base import Provider

_HEAD = 8192
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                (b"GIF89a", "image/gif"), (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"))
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"avif")
_DOCUMENT_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\xd0\xcf\x11\xe0")  # pdf; zip (docx, xlsx, epub...); old Office
DOCUMENT_SUFFIXES = {".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".epub", ".mobi",
                     ".odt", ".ods", ".odp"}
_VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".flv", ".wmv", ".m4v", ".3gp")
UPLOAD_NOTICE = 10 * 1024 * 1024  # say "uploading ..." for documents at least this large


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
    path, size, head = _local(value)
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
        if entry.is_file() and not entry.name.startswith("."):
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
    path, size, _ = _local(value)
    return Attachment("file", str(path), size)


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


def _local(value: str) -> tuple[Path, int, bytes]:
    """A regular local file's path, size and first bytes, or a UsageError naming it."""
    path = Path(value).expanduser()
    try:
        if path.is_dir():
            raise UsageError(f"{value} is a directory, not a file")
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(_HEAD)
    except FileNotFoundError:
        raise UsageError(f"cannot attach {value}: no such file") from None
    except OSError as e:
        raise UsageError(f"cannot read {value}: {e.strerror or e}") from None
    return path, size, head


# --- building the message ------------------------------------------------------------------

def build_content(text: str, attachments: Sequence[Attachment], provider: Provider, model: str, *,
                  text_budget: int = MAX_STDIN) -> str | list[dict[str, Any]]:
    """The user message content: `text` plus the attachments, checked against the provider first.

    Everything is checked before any upload, so a bad attachment sends nothing. `text_budget`
    is what text files may add, in bytes (what piped input left of the shared limit).
    """
    caps = provider.capabilities(model)
    media = [a for a in attachments if a.kind in ("image", "frame")]
    for att in media:
        what = "images" if att.kind == "image" else "video frames"
        refusal = caps.images if att.kind == "image" else caps.video
        if isinstance(refusal, str):
            raise UsageError(f"{provider.name}: cannot send {what} ({att.name}): {refusal}")
        if isinstance(caps.images, int) and att.size > caps.images:
            raise UsageError(f"{att.name} is too large: {human_size(att.size)} "
                             f"({provider.name} takes images up to {human_size(caps.images)})")
    texts, documents = _sort_files([a for a in attachments if a.kind == "file"], text_budget)
    for att in documents:
        if isinstance(caps.documents, str):
            raise UsageError(f"{provider.name}: cannot read {att.name}: {caps.documents}")
        if att.size > caps.documents:
            raise UsageError(f"{att.name} is too large to upload: {human_size(att.size)} "
                             f"({provider.name} takes documents up to {human_size(caps.documents)})")

    parts: list[dict[str, Any]] = [{"type": "image_url", "image_url": {"url": _url(a)}}
                                   for a in media if a.kind == "image"]
    frames = [_url(a) for a in media if a.kind == "frame"]
    if frames:
        parts.append({"type": "video", "video": frames})
    blocks = [fenced(a.name, _read_text(a)) for a in texts]
    file_ids: list[dict[str, Any]] = []
    for att in documents:  # uploads last: whatever else could fail has been read by now
        if att.size >= UPLOAD_NOTICE:
            provider.notify(f"uploading {att.name} ({human_size(att.size)}) to {provider.name}…")
        doc = provider.upload_document(Path(att.source), model)
        if doc.file_id:
            file_ids.append({"type": FILEID_PART, "file_id": doc.file_id, "name": att.name})
        if doc.text is not None:
            blocks.append(fenced(f"{att.name} (extracted text)", doc.text))
    full = "\n\n".join([text, *blocks]) if text else "\n\n".join(blocks)
    if not parts and not file_ids:
        return full
    return [*parts, *file_ids, {"type": "text", "text": full}]


def _sort_files(files: list[Attachment], budget: int) -> tuple[list[Attachment], list[Attachment]]:
    """(text files within the budget, documents to upload); UsageError when the text is too large."""
    texts, documents, total = [], [], MAX_STDIN - budget  # piped input counts against the same limit
    for att in files:
        if _is_document(_head(att), att.source):
            documents.append(att)
            continue
        total += att.size
        if att.size > MAX_STDIN:
            raise UsageError(f"{att.name} is too large to include as text: {human_size(att.size)} "
                             f"(limit {human_size(MAX_STDIN)})")
        if total > MAX_STDIN:
            raise UsageError(f"text files and piped input are too large together: {human_size(total)} "
                             f"(limit {human_size(MAX_STDIN)}); {att.name} is {human_size(att.size)}")
        texts.append(att)
    return texts, documents


def _is_document(head: bytes, name: str) -> bool:
    """A file to upload rather than include: a known document type, or binary data."""
    return (Path(name).suffix.lower() in DOCUMENT_SUFFIXES or head.startswith(_DOCUMENT_MAGIC)
            or b"\x00" in head or image_type(head) is not None)


def _head(att: Attachment) -> bytes:
    try:
        with open(att.source, "rb") as f:
            return f.read(_HEAD)
    except OSError as e:
        raise UsageError(f"cannot read {att.source}: {e.strerror or e}") from None


def _read_text(att: Attachment) -> str:
    try:
        data = Path(att.source).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {att.source}: {e.strerror or e}") from None
    try:
        return decode_text(data, att.name)
    except UsageError:
        raise UsageError(f"{att.name} is not text in UTF-8 or GB18030, nor a document type "
                         f"({', '.join(sorted(DOCUMENT_SUFFIXES))})") from None


def _url(att: Attachment) -> str:
    """What an image part carries: the URL, or the local file as a data: URL."""
    if att.is_url:
        return att.source
    try:
        data = Path(att.source).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {att.source}: {e.strerror or e}") from None
    return f"data:{att.mime};base64,{base64.b64encode(data).decode('ascii')}"


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
