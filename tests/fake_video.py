"""Zhipu's video API on the loopback FakeServer: submit, poll, and the file to download.

`POST .../videos/generations` answers `{id, model, task_status: PROCESSING, request_id}` and adds
a route for `GET .../async-result/{id}`: PROCESSING for `polls` polls, then SUCCESS with
`video_result: [{url, cover_image_url}]` (the URL is this server's `/cdn/{id}.mp4`) or FAIL.
`refuse` makes the submission a documented Zhipu error (e.g. "1301", sensitive content);
`interrupt_on_poll=N` sends this process SIGINT (a real Ctrl-C) while poll N is being answered.
"""

from __future__ import annotations

import itertools
import os
import signal
from typing import Any

from tests.fakeserver import FakeServer, RecordedRequest, Reply, json_reply, zhipu_error

SUBMIT_PATH = "/videos/generations"
RESULT_PATH = "/async-result/"
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 40  # 10 kB that start like an mp4
_ids = itertools.count(1)


class VideoService:
    """The fake video API; what was submitted and polled is recorded."""

    def __init__(self, server: FakeServer, *, polls: int = 2, outcome: str = "SUCCESS",
                 refuse: str | None = None, cut_download: bool = False, interrupt_on_poll: int = 0) -> None:
        self.server = server
        self.interrupt_on_poll = interrupt_on_poll
        self.polls, self.outcome, self.refuse, self.cut_download = polls, outcome, refuse, cut_download
        self.submitted: list[Any] = []  # the JSON bodies of the submissions
        self.polled: dict[str, int] = {}  # task id: polls answered
        self.downloads = 0
        server.route(SUBMIT_PATH, self._submit)

    def add_task(self, task_id: str, model: str = "cogvideox") -> None:
        """A task the server knows, as if submitted before."""
        self.polled[task_id] = 0
        self.server.route(RESULT_PATH + task_id, lambda req: self._result(task_id, model))
        self.server.route(f"/cdn/{task_id}.mp4", lambda req: self._file())

    def video_url(self, task_id: str) -> str:
        return f"{self.server.url}/cdn/{task_id}.mp4"

    def _submit(self, req: RecordedRequest) -> Reply:
        self.submitted.append(req.json)
        if self.refuse:
            return zhipu_error(self.refuse, request_id="req-refused")
        task_id = f"task-{next(_ids)}"
        self.add_task(task_id, req.model)
        return json_reply({"id": task_id, "model": req.model, "task_status": "PROCESSING",
                           "request_id": f"req-{task_id}"})

    def _result(self, task_id: str, model: str) -> Reply:
        self.polled[task_id] += 1
        if self.polled[task_id] == self.interrupt_on_poll:
            os.kill(os.getpid(), signal.SIGINT)  # the main thread waits for this answer: Ctrl-C lands there
        body: dict[str, Any] = {"model": model, "request_id": f"req-{task_id}", "video_result": []}
        if self.polled[task_id] <= self.polls:
            return json_reply({**body, "task_status": "PROCESSING"})
        if self.outcome == "FAIL":
            return json_reply({**body, "task_status": "FAIL"})
        result = [{"url": self.video_url(task_id), "cover_image_url": f"{self.server.url}/cdn/{task_id}.jpg"}]
        return json_reply({**body, "task_status": "SUCCESS", "video_result": result})

    def _file(self) -> Reply:
        self.downloads += 1
        cut = self.cut_download

        def write(conn: Any, req: RecordedRequest) -> None:
            headers = {"Content-Type": "video/mp4", "Content-Length": str(len(VIDEO))}
            if not cut:
                return conn.send(200, VIDEO, headers)
            conn._head(200, headers)
            conn.h.wfile.write(VIDEO[: len(VIDEO) // 2])
            conn.h.wfile.flush()
            conn.abort()
        return Reply(write)
