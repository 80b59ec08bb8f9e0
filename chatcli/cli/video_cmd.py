"""`chat video PROMPT` and `chat video --task ID`: make a video on Zhipu, wait for it, print its URLs.

stdout: `video: URL` and `cover: URL` (`saved: PATH` with --download), or one JSON object with
--json; `task: ID` with --no-wait. stderr: the progress line on a terminal, notices, failures.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from chatcli.app import video
from chatcli.app.signals import terminating
from chatcli.errors import ChatError, Interrupted, Terminated, UsageError
from chatcli.ui.terminal import Terminal


def video_command(values: dict[str, Any], term: Terminal | None = None) -> int:
    """Run `chat video` with its flags; the exit status (failures raise ChatError)."""
    term = term or Terminal()
    prompt = " ".join(values.get("prompt") or ()).strip()
    task_id = (values.get("task") or "").strip()
    _check(values, prompt, task_id)
    from chatcli.config import load_config

    cfg = load_config(values.get("config"))
    pcfg = video.video_provider(cfg, values.get("provider"))
    status = video.StatusLine(term)
    with terminating(term):
        return _run(values, term, video.VideoService(pcfg, status.notify), status, prompt, task_id)


def _check(values: dict[str, Any], prompt: str, task_id: str) -> None:
    """Flags that cannot go together, before anything is sent."""
    if prompt and task_id:
        raise UsageError("give a prompt or --task ID, not both")
    if not prompt and not task_id:
        raise UsageError('say what the video shows: chat video "a man sailing a boat" (or --task ID)')
    if task_id and values.get("image_url"):
        raise UsageError("--image-url is for a new video, not --task")
    timeout = values.get("timeout")
    if timeout is not None and timeout <= 0:
        raise UsageError(f"--timeout needs a number of seconds above 0 (got {timeout:g})")
    if values.get("download"):
        if not values.get("wait", True):
            raise UsageError("--download needs the video: drop --no-wait")
        video.check_directory(values["download"])


def _run(values: dict[str, Any], term: Terminal, service: video.VideoService, status: video.StatusLine,
         prompt: str, task_id: str) -> int:
    model = values.get("model") or video.DEFAULT_MODEL
    if task_id and values.get("download"):
        _not_there(values["download"], task_id)
    task = (service.fetch(task_id, model) if task_id
            else service.submit(prompt, model, values.get("image_url")))
    if not values.get("wait", True) and not task.finished:
        return _pending(task, term, bool(values.get("as_json")))
    try:
        task = video.wait(service, task, timeout=values.get("timeout") or video.DEFAULT_TIMEOUT,
                          on_tick=status.waiting)
        video.result(service, task)
        saved = _download(service, task, values["download"], status) if values.get("download") else None
    except Terminated:
        status.clear()
        if not task.finished:
            term.notice(f"the video is still being made: {video.fetch_hint(task.id)}")
        raise
    finally:
        status.clear()
    if values.get("as_json"):
        term.say(json.dumps({**task.as_json(), **({"file": str(saved)} if saved else {})}, ensure_ascii=False),
                 dim=False)
    else:
        term.say(video.result_lines(task, saved), dim=False)
    return 0


def _pending(task: video.VideoTask, term: Terminal, as_json: bool) -> int:
    """--no-wait: the task's id now, and how to fetch it later."""
    term.say(json.dumps(task.as_json(), ensure_ascii=False) if as_json else f"task: {task.id}", dim=False)
    term.notice(f"{task.status.lower()}; fetch it with: {video.fetch_hint(task.id)}")
    return 0


def _not_there(directory: str, task_id: str) -> None:
    """--task ID --download DIR: refuse early if DIR already holds this task's video."""
    stem = video.target_path(directory, video.VideoTask(task_id, "")).stem
    taken = sorted(Path(directory).expanduser().glob(f"{stem}.*"))
    if taken:
        raise ChatError(f"{taken[0]} exists; not overwritten")


def _download(service: video.VideoService, task: video.VideoTask, directory: str,
              status: video.StatusLine) -> Path:
    path = video.target_path(directory, task)
    try:
        service.download(task.video_url or "", path, status.downloading)
    except KeyboardInterrupt:
        raise Interrupted(f"download stopped, nothing kept; {video.fetch_hint(task.id)} --download {directory} "
                          f"fetches it again") from None
    return path
