"""Video generation on Zhipu (CogVideoX): submit a task, poll it until it ends, save the file.

Both front ends use this: `chat video` (chatcli.cli.video_cmd) and `/video-gen` (chatcli.repl.video_cmd).
The zhipuai client is the zhipu provider's own (key, base_url, proxy, CA, timeout), and its errors
are mapped as a chat call's are; polls are retried like a model call, the submission is not (a
second submission would make and bill a second video).
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chatcli.errors import BadResponseError, ChatError, Interrupted, NetworkError, ProviderError, UsageError
from chatcli.ui.cells import cells, fit
from chatcli.ui.sanitize import strip_controls
from chatcli.ui.terminal import width_of

if TYPE_CHECKING:
    from chatcli.config import Config, ProviderConfig
    from chatcli.providers.sdk import SDKProvider
    from chatcli.ui.terminal import Terminal

DEFAULT_MODEL = "cogvideox"
DEFAULT_TIMEOUT = 600.0  # seconds to wait for a task before giving up on it (it goes on being made)
POLL_ENV = "CHATCLI_VIDEO_POLL"  # a fixed poll interval in seconds (tests set it small)
FIRST_POLL, LAST_POLL, POLL_STEP = 2.0, 5.0, 0.5  # polls start 2 s apart and slow to 5 s
PROCESSING, SUCCESS, FAIL = "PROCESSING", "SUCCESS", "FAIL"
CHUNK = 64 * 1024
MB = 1_000_000


@dataclass
class VideoTask:
    """A video task as the server last described it."""

    id: str
    status: str
    model: str = ""
    request_id: str | None = None
    video_url: str | None = None
    cover_image_url: str | None = None

    @property
    def finished(self) -> bool:
        """SUCCESS or FAIL: polling it again would change nothing."""
        return self.status in (SUCCESS, FAIL)

    def as_json(self) -> dict[str, Any]:
        """The `--json` object."""
        return {"id": self.id, "status": self.status, "video_url": self.video_url,
                "cover_image_url": self.cover_image_url, "model": self.model, "request_id": self.request_id}


def fetch_hint(task_id: str) -> str:
    """The command that fetches a task later."""
    return f"chat video --task {task_id}"


def stopped_waiting(task_id: str) -> str:
    """What Ctrl-C while waiting says."""
    return f"stopped waiting; the video is still being made: {fetch_hint(task_id)}"


def video_provider(cfg: Config, name: str | None, current: ProviderConfig | None = None) -> ProviderConfig:
    """The Zhipu provider to make videos with: the named one (which must be kind zhipu), else
    `current` if it is a Zhipu one (the session's), else `zhipu`, else the first of kind zhipu."""
    if name:
        pcfg = cfg.provider(name)
        if pcfg.kind != "zhipu":
            raise UsageError(f"provider '{name}' is kind '{pcfg.kind}'; videos are made by Zhipu (e.g. -p zhipu)")
        return pcfg
    if current is not None and current.kind == "zhipu":
        return current
    named = cfg.providers.get("zhipu")
    found = named if named is not None and named.kind == "zhipu" else next(
        (p for p in cfg.providers.values() if p.kind == "zhipu"), None)
    if found is None:
        raise UsageError("no provider of kind 'zhipu' is configured; videos are made by Zhipu")
    return found


def poll_intervals(environ: Any = None) -> Iterator[float]:
    """Seconds between polls: $CHATCLI_VIDEO_POLL if set, else 2 s growing to 5 s."""
    value = (os.environ if environ is None else environ).get(POLL_ENV)
    try:
        fixed = float(value) if value else None
    except ValueError:
        fixed = None
    pause = FIRST_POLL
    while True:
        yield fixed if fixed is not None and fixed >= 0 else pause
        pause = min(LAST_POLL, pause + POLL_STEP)


class VideoService:
    """The video API of one Zhipu provider, its errors mapped like a chat call's."""

    def __init__(self, pcfg: ProviderConfig, notify: Callable[[str], None] | None = None) -> None:
        from chatcli.providers.registry import create_provider
        from chatcli.providers.sdk import SDKProvider

        provider = create_provider(pcfg, notify)  # the zhipu adapter: the same client as chat's
        assert isinstance(provider, SDKProvider)
        self.provider: SDKProvider = provider
        self.config = pcfg
        self.name = pcfg.name

    def _mapped(self, model: str) -> Any:
        from chatcli.core.messages import ChatRequest

        return self.provider.mapped(ChatRequest([], model), mid_stream=False)

    def submit(self, prompt: str, model: str = DEFAULT_MODEL, image_url: str | None = None) -> VideoTask:
        """Start a task (once: not retried)."""
        client = self.provider.client()
        with self._mapped(model):
            answer = client.videos.generations(model=model, prompt=prompt, image_url=image_url)
        task = self._task(answer, None, model)
        if not task.id:
            raise BadResponseError(f"{self.name}: the video task was accepted without an id", provider=self.name,
                                   request_id=task.request_id)
        return task

    def fetch(self, task_id: str, model: str = DEFAULT_MODEL) -> VideoTask:
        """The task as it is now (retried like a model call)."""
        def once() -> VideoTask:
            client = self.provider.client()
            with self._mapped(model):
                return self._task(client.videos.retrieve_videos_result(task_id), task_id, model)
        try:
            return self.provider.retrying(once)
        except ProviderError as err:
            if err.status == 404:  # not a missing model: no such task
                raise ProviderError(f"{self.name}: no video task {task_id!r} (HTTP 404)", provider=self.name,
                                    status=404, code=err.code, request_id=err.request_id) from None
            raise

    def _task(self, answer: Any, task_id: str | None, model: str) -> VideoTask:
        results = getattr(answer, "video_result", None) or []
        first = results[0] if isinstance(results, list) and results else None
        return VideoTask(
            id=_text(getattr(answer, "id", None)) or task_id or "",
            status=_text(getattr(answer, "task_status", None)) or PROCESSING,
            model=_text(getattr(answer, "model", None)) or model,
            request_id=_text(getattr(answer, "request_id", None)),
            video_url=_text(getattr(first, "url", None)),
            cover_image_url=_text(getattr(first, "cover_image_url", None)),
        )

    def download(self, url: str, path: Path, progress: Callable[[int, int | None], None]) -> int:
        """Save url to path (never overwritten; removed if the download does not finish); the bytes saved."""
        import httpx

        from chatcli.providers import transport
        from chatcli.providers.errmap import network_error

        answered = False
        try:
            with transport.httpx_client(self.config, self.config.timeout, follow_redirects=True) as http, \
                    http.stream("GET", url) as response:
                answered = True
                if response.status_code >= 400:
                    raise ProviderError(f"{self.name}: cannot download the video (HTTP {response.status_code})",
                                        provider=self.name, status=response.status_code)
                total = _length(response.headers.get("content-length"))
                return _save(response.iter_bytes(CHUNK), path, total, progress, self.name)
        except httpx.HTTPError as e:
            if answered:
                raise NetworkError(f"{self.name}: the download stopped: connection lost", provider=self.name) from None
            raise network_error(self.name, url, e, mid_stream=False) from None


def _text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _length(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def _save(chunks: Iterator[bytes], path: Path, total: int | None, progress: Callable[[int, int | None], None],
          provider: str) -> int:
    """Write chunks to a new file at path; on any failure (Ctrl-C too) the partial file is removed."""
    try:
        f = open(path, "xb")
    except FileExistsError:
        raise ChatError(f"{path} exists; not overwritten") from None
    except OSError as e:
        raise ChatError(f"cannot write {path}: {e.strerror or e}") from None
    got = 0
    try:
        with f:
            for chunk in chunks:
                f.write(chunk)
                got += len(chunk)
                progress(got, total)
        if total is not None and got < total:
            raise NetworkError(f"{provider}: the download stopped at {got:,} of {total:,} bytes", provider=provider)
    except BaseException as exc:
        path.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise ChatError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
    return got


def target_path(directory: str, task: VideoTask) -> Path:
    """Where --download DIR saves a task's video: DIR/ID.EXT (EXT from the URL, else .mp4)."""
    suffix = Path((task.video_url or "").split("?")[0].split("#")[0]).suffix.lower()
    if not re.fullmatch(r"\.[a-z0-9]{1,5}", suffix):
        suffix = ".mp4"
    return Path(os.path.expanduser(directory)) / (re.sub(r"[^A-Za-z0-9._-]", "_", task.id).lstrip(".") + suffix)


def check_directory(directory: str) -> None:
    """--download DIR must be an existing directory (checked before anything is submitted)."""
    if not Path(os.path.expanduser(directory)).is_dir():
        raise UsageError(f"--download {directory}: not a directory")


def wait(service: VideoService, task: VideoTask, *, timeout: float = DEFAULT_TIMEOUT,
         on_tick: Callable[[float, str], None] = lambda _s, _status: None,
         sleep: Callable[[float], object] | None = None, clock: Callable[[], float] = time.monotonic,
         intervals: Iterator[float] | None = None) -> VideoTask:
    """Poll the task until it is finished; Ctrl-C (Interrupted) or a timeout (NetworkError) name its id.

    sleep waits on an Event by default (Ctrl-C ends it at once); tests pass their own clock and sleep.
    """
    pause = sleep or threading.Event().wait
    steps = intervals or poll_intervals()
    start = clock()
    try:
        while not task.finished:
            elapsed = clock() - start
            if elapsed >= timeout:
                err = NetworkError(f"{service.name}: no video after {timeout:g} s (still {task.status}); "
                                   f"{fetch_hint(task.id)} waits again", provider=service.name)
                err.retryable = False
                raise err
            on_tick(elapsed, task.status)
            pause(max(0.0, min(next(steps), timeout - elapsed)))
            task = service.fetch(task.id, task.model or DEFAULT_MODEL)
    except KeyboardInterrupt:
        raise Interrupted(stopped_waiting(task.id)) from None
    return task


def result(service: VideoService, task: VideoTask) -> VideoTask:
    """A finished task's outcome: itself if it has a video, else a ProviderError."""
    rid = f" (request_id {task.request_id})" if task.request_id else ""
    if task.status == FAIL:
        raise ProviderError(f"{service.name}: video generation failed (task {task.id}, model {task.model}){rid}",
                            provider=service.name, request_id=task.request_id)
    if not task.video_url:
        raise BadResponseError(f"{service.name}: the video task {task.id} succeeded without a video URL{rid}",
                               provider=service.name, request_id=task.request_id)
    return task


def result_lines(task: VideoTask, saved: Path | None = None) -> str:
    """`video: URL`, `cover: URL` (and `saved: PATH`), one per line."""
    lines = [f"video: {task.video_url}"]
    if task.cover_image_url:
        lines.append(f"cover: {task.cover_image_url}")
    if saved is not None:
        lines.append(f"saved: {saved}")
    return "\n".join(lines)


class StatusLine:
    """One line on stderr redrawn in place (`\\r`) on a terminal, cut to its width; nothing on a pipe."""

    def __init__(self, term: Terminal) -> None:
        self.term = term
        self.live = term.is_terminal(term.err)
        self.shown = 0  # cells of the line now drawn

    def show(self, text: str) -> None:
        if not self.live:
            return
        line = fit(strip_controls(text), max(1, width_of(self.term.err) - 1))  # the last column would wrap
        pad = " " * max(0, self.shown - cells(line))
        self.term.err.write(f"\r{line}{pad}")
        self.term.err.flush()
        self.shown = cells(line)

    def clear(self) -> None:
        if self.shown:
            self.term.err.write("\r" + " " * self.shown + "\r")
            self.term.err.flush()
            self.shown = 0

    def waiting(self, elapsed: float, status: str) -> None:
        """`generating video… 42 s · PROCESSING`."""
        self.show(f"generating video… {elapsed:.0f} s · {status}")

    def downloading(self, got: int, total: int | None) -> None:
        """`downloading video… 42% · 3.1 of 7.4 MB`."""
        if total:
            self.show(f"downloading video… {got * 100 // total}% · {got / MB:.1f} of {total / MB:.1f} MB")
        else:
            self.show(f"downloading video… {got / MB:.1f} MB")

    def notify(self, message: str) -> None:
        """A notice (a retry) on its own line, the status line redrawn after it."""
        self.clear()
        self.term.notice(message)
