"""`/video-gen PROMPT`: make a video on Zhipu without leaving the conversation (see chatcli.app.video).

The session's provider makes it if it is a Zhipu one, else the config's `zhipu`. Ctrl-C stops
waiting and gives the prompt back with the task id (`chat video --task ID` fetches it later).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatcli.app import video
from chatcli.errors import ChatError
from chatcli.repl.commands import command

if TYPE_CHECKING:
    from chatcli.repl.loop import Repl


@command("/video-gen", "make a short video from a prompt (Zhipu CogVideoX) and print its URL", "PROMPT")
def video_gen(repl: Repl, arg: str) -> None:
    """Submit, wait with a progress line, print `video: URL` and `cover: URL`."""
    if not arg:
        return repl.error('usage: /video-gen PROMPT (e.g. /video-gen 一个开船的人)')
    session = repl.session
    status = video.StatusLine(repl.term)
    try:
        pcfg = video.video_provider(session.cfg, None, session.provider_config)
        service = video.VideoService(pcfg, status.notify)
        task = service.submit(arg, video.DEFAULT_MODEL)
        repl.term.notice(f"video task {task.id} started")
        task = video.result(service, video.wait(service, task, on_tick=status.waiting))
    except ChatError as e:  # Interrupted (Ctrl-C while waiting) says how to fetch the video later
        status.clear()
        return repl.error(e.message)
    finally:
        status.clear()
    repl.say(video.result_lines(task), dim=False)
