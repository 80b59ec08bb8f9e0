"""The provider interface: one request in, a stream of typed events out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from chatcli.core.messages import ChatRequest, Event
from chatcli.errors import UsageError
from chatcli.providers.capabilities import NO_DOCUMENTS, Capabilities, DocumentFile, UploadedDocument
from chatcli.providers.pump import close_in_background, pumped
from chatcli.providers.retry import retrying

if TYPE_CHECKING:
    from chatcli.config import ProviderConfig
    from chatcli.core.options import GenerationOptions

Notify = Callable[[str], None]
T = TypeVar("T")


class Provider(ABC):
    """A chat backend. Subclasses open the call in `_open`; retries happen here."""

    def __init__(self, config: ProviderConfig, notify: Notify | None = None) -> None:
        self.config = config
        self.name = config.name
        self.notify = notify or (lambda _msg: None)
        self._told: set[str] = set()
        self._closer: Callable[[], None] | None = None  # closes the answer being read

    def state(self) -> dict[str, Any]:
        """What this provider keeps between turns (e.g. a server-side conversation id); {} for none.

        The session saves it with the conversation and hands it back through restore() on resume.
        """
        return {}

    def restore(self, state: dict[str, Any]) -> None:  # noqa: B027 (a hook: most providers keep nothing)
        """Take back what state() returned for a saved conversation."""

    def check_options(self, opts: GenerationOptions) -> None:  # noqa: B027 (a hook: by default all are fine)
        """Raise UsageError for generation options this provider cannot honour (before anything is sent)."""

    def capabilities(self, model: str) -> Capabilities:
        """Which images, video frames and documents this provider takes with `model`."""
        return Capabilities()

    def upload_document(self, doc: DocumentFile, model: str) -> UploadedDocument:
        """Upload a document (bytes read once) for `model` to read, retrying like a model call."""
        return self.retrying(lambda: self._upload(doc, model))

    def retrying(self, attempt_once: Callable[[], T]) -> T:
        """The result of attempt_once, tried again (with a notice) after retryable failures."""
        return retrying(attempt_once, self.notify)

    def _upload(self, doc: DocumentFile, model: str) -> UploadedDocument:
        """One upload attempt; providers that read documents override this (see errmap.upload_errors)."""
        raise UsageError(f"{self.name}: cannot read {doc.name}: {NO_DOCUMENTS}")

    def tell_once(self, message: str) -> None:
        """A notice shown once per provider object (once per `chat ask`, once per REPL session)."""
        if message not in self._told:
            self._told.add(message)
            self.notify(message)

    @abstractmethod
    def _open(self, request: ChatRequest) -> Iterator[Event]:
        """Send the request; return its events. Raises ProviderError before any byte is read."""

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield the events of one model call, retrying failures that happen before the answer.

        The network is read in a worker thread (see chatcli.providers.pump), so Ctrl-C is seen at once.
        """
        if request.generation is not None:
            self.check_options(request.generation)
        yield from pumped(self._stream(request), self.abort)

    def reading(self, closer: Callable[[], None]) -> None:
        """Register how to close the answer now being read (see abort)."""
        self._closer = closer

    def abort(self) -> None:
        """Close the answer being read, so the server stops generating; never blocks the caller."""
        closer, self._closer = self._closer, None
        if closer is not None:
            close_in_background(closer)

    def _stream(self, request: ChatRequest) -> Iterator[Event]:
        yield from self.retrying(lambda: self._open(request))
