"""What each provider takes besides text (images, video frames, documents), with the documented limits.

Limits, from the providers' documentation:
- DashScope: images up to 10 MB (Qwen-VL); file-extract documents up to 150 MB each, read by
  qwen-long only (the long-context guide: "每个文件的大小限制为 150MB").
- Zhipu: GLM-4V images up to 5 MB; file-extract documents up to 50 MB.
- Other OpenAI-compatible servers: images up to 20 MB (OpenAI's limit); no video, no documents.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass

from chatcli.providers.catalog import family

MB = 1024 * 1024
NO_DOCUMENTS = ("only DashScope (a qwen-long model) and Zhipu read documents such as pdf or docx; "
                "text and code files work with every provider")
NO_VIDEO = "video frames are a DashScope feature (the qwen provider, qwen-vl models)"


@dataclass(frozen=True)
class Capabilities:
    """What a provider takes with one model: a byte limit (True for video), else the reason it does not."""

    images: int | str = 20 * MB  # largest image file
    video: bool | str = NO_VIDEO
    documents: int | str = NO_DOCUMENTS  # largest document to upload


@dataclass(frozen=True)
class DocumentFile:
    """A document to upload, read once (chatcli.app.localfiles): what is sent is exactly these bytes."""

    name: str
    data: bytes
    mime: str = "application/octet-stream"

    @classmethod
    def of(cls, name: str, data: bytes) -> DocumentFile:
        """The document with the MIME type its name suggests."""
        return cls(name, data, upload_type(name))

    def as_upload(self) -> tuple[str, bytes, str]:
        """The (filename, content, content type) triple the SDKs and httpx take for a multipart file."""
        return self.name, self.data, self.mime


@dataclass(frozen=True)
class UploadedDocument:
    """A document the provider has taken: a file id to reference, or the text it extracted."""

    name: str
    file_id: str | None = None
    text: str | None = None


ZHIPU = Capabilities(images=5 * MB, video="GLM models here take no video frames; --video is for DashScope "
                     "(the qwen provider, qwen-vl models)", documents=50 * MB)


def dashscope(model: str) -> Capabilities:
    """DashScope's compatible mode: images, video frames, and documents for qwen-long."""
    if family(model).documents:
        documents: int | str = 150 * MB
    else:
        documents = (f"on DashScope only qwen-long reads documents such as pdf or docx (the model is {model}); "
                     "choose it with -m qwen-long (/model qwen-long in a session)")
    return Capabilities(images=10 * MB, video=True, documents=documents)


def upload_type(name: str) -> str:
    """The Content-Type to upload a document called `name` with."""
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
