"""`chat video` and `/video-gen`: the real zhipuai SDK against the loopback video API (tests.fake_video)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from chatcli.app import video
from chatcli.cli.main import run
from chatcli.cli.video_cmd import video_command
from chatcli.errors import Interrupted, NetworkError
from chatcli.ui.terminal import Terminal
from tests.conftest import ZHIPU_KEY, make_env
from tests.fake_video import VIDEO, VideoService
from tests.fakeserver import FakeServer
from tests.repl_harness import ReplRig, TerminalText, preset_config


@pytest.fixture
def env(tmp_path: Path, server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config whose providers point at the server; the key set, polls 10 ms apart; its path."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("ZHIPUAI_API_KEY", ZHIPU_KEY)
    monkeypatch.setenv(video.POLL_ENV, "0.01")
    return make_env(tmp_path, server.url).config


def invoke(capsys: pytest.CaptureFixture[str], config: Path, *argv: str) -> tuple[int, str, str]:
    """`chat video ARGV --config CONFIG` in-process, as main() runs it: (exit status, stdout, stderr)."""
    capsys.readouterr()
    code = run(["video", *argv, "--config", str(config)], Terminal(stdin=io.StringIO(), environ={}))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_video_is_made_and_its_urls_printed(server, env, capsys):
    fake = VideoService(server, polls=2)
    code, out, err = invoke(capsys, env, "一个开船的人")
    task = next(iter(fake.polled))
    assert (code, err) == (0, "")  # no progress line on a pipe
    assert out == f"video: {fake.video_url(task)}\ncover: {server.url}/cdn/{task}.jpg\n"
    assert fake.submitted[0]["model"] == "cogvideox" and fake.submitted[0]["prompt"] == "一个开船的人"
    assert fake.polled[task] == 3
    submit = next(r for r in server.requests if r.path.endswith("/videos/generations"))
    assert submit.path == "/api/paas/v4/videos/generations" and submit.headers["authorization"]


def test_json_model_and_image_url(server, env, capsys):
    fake = VideoService(server, polls=0)
    code, out, err = invoke(capsys, env, "a boat", "-m", "cogvideox-2", "--image-url", "https://x/boat.png",
                            "--json")
    task = next(iter(fake.polled))
    assert (code, err) == (0, "")
    assert json.loads(out) == {"id": task, "status": "SUCCESS", "video_url": fake.video_url(task),
                               "cover_image_url": f"{server.url}/cdn/{task}.jpg", "model": "cogvideox-2",
                               "request_id": f"req-{task}"}
    assert fake.submitted[0]["image_url"] == "https://x/boat.png" and fake.submitted[0]["model"] == "cogvideox-2"


def test_a_failed_task_is_one_line(server, env, capsys):
    fake = VideoService(server, polls=1, outcome="FAIL")
    code, out, err = invoke(capsys, env, "a boat")
    task = next(iter(fake.polled))
    assert (code, out) == (1, "")
    assert err == f"chat: zhipu: video generation failed (task {task}, model cogvideox) (request_id req-{task})\n"


def test_a_refused_prompt_is_the_content_filter(server, env, capsys):
    fake = VideoService(server, refuse="1301")
    code, out, err = invoke(capsys, env, "something unsafe")
    assert (code, out) == (1, "") and err.count("\n") == 1
    assert err.startswith("chat: zhipu: refused by the provider's content filter (HTTP 400, 1301)")
    assert "request_id req-refused" in err and fake.polled == {}


def test_no_wait_then_task(server, env, capsys):
    fake = VideoService(server, polls=1)
    code, out, err = invoke(capsys, env, "a boat", "--no-wait")
    task = next(iter(fake.polled))
    assert (code, out) == (0, f"task: {task}\n")
    assert err == f"chat: processing; fetch it with: chat video --task {task}\n" and fake.polled[task] == 0
    code, out, err = invoke(capsys, env, "--task", task, "--no-wait")  # still being made
    assert (code, out, fake.polled[task]) == (0, f"task: {task}\n", 1)
    code, out, err = invoke(capsys, env, "--task", task)
    assert (code, out.splitlines()[0], err) == (0, f"video: {fake.video_url(task)}", "")
    assert len(fake.submitted) == 1


def test_an_unknown_task(server, env, capsys):
    VideoService(server)
    code, out, err = invoke(capsys, env, "--task", "nope")
    assert (code, out) == (1, "") and err.startswith("chat: zhipu: no video task 'nope' (HTTP 404)")


def test_download_saves_the_file_and_never_overwrites(server, env, tmp_path, capsys):
    fake = VideoService(server, polls=0)
    out_dir = tmp_path / "videos"
    out_dir.mkdir()
    code, out, err = invoke(capsys, env, "a boat", "--download", str(out_dir))
    task = next(iter(fake.polled))
    saved = out_dir / f"{task}.mp4"
    assert (code, err) == (0, "") and out.splitlines()[-1] == f"saved: {saved}"
    assert saved.read_bytes() == VIDEO
    saved.write_bytes(b"mine")
    code, out, err = invoke(capsys, env, "--task", task, "--download", str(out_dir))
    assert (code, out, err) == (1, "", f"chat: {saved} exists; not overwritten\n")
    assert saved.read_bytes() == b"mine" and fake.downloads == 1


def test_a_cut_download_leaves_no_file(server, env, tmp_path, capsys):
    fake = VideoService(server, polls=0, cut_download=True)
    code, out, err = invoke(capsys, env, "a boat", "--download", str(tmp_path), "--json")
    assert (code, out) == (5, "") and err == "chat: zhipu: the download stopped: connection lost\n"
    assert fake.downloads == 1 and list(tmp_path.glob("task-*")) == []


def test_the_progress_lines_on_a_terminal(server, env, tmp_path):
    fake = VideoService(server, polls=2)
    out, err = io.StringIO(), TerminalText()
    term = Terminal(out, err, stdin=io.StringIO(), environ={"TERM": "xterm"})
    code = video_command({"prompt": ("a boat",), "config": str(env), "download": str(tmp_path)}, term)
    task = next(iter(fake.polled))
    assert code == 0 and out.getvalue().endswith(f"saved: {tmp_path / (task + '.mp4')}\n")
    shown = err.getvalue()
    assert "\rgenerating video… 0 s · PROCESSING" in shown
    assert "\rdownloading video… 100% · 0.0 of 0.0 MB" in shown
    assert "\n" not in shown and shown.endswith("\r")  # one line, redrawn, then wiped


def test_a_timeout_names_the_task(server, env, capsys):
    fake = VideoService(server, polls=10**9)
    code, out, err = invoke(capsys, env, "a boat", "--timeout", "0.05")
    task = next(iter(fake.polled))
    assert (code, out) == (5, "")
    assert err == f"chat: zhipu: no video after 0.05 s (still PROCESSING); chat video --task {task} waits again\n"


def test_ctrl_c_stops_waiting_and_names_the_task(server, env, capsys):
    fake = VideoService(server, polls=5, interrupt_on_poll=2)
    code, out, err = invoke(capsys, env, "a boat")
    task = next(iter(fake.polled))
    assert (code, out) == (130, "")
    assert err == f"chat: stopped waiting; the video is still being made: chat video --task {task}\n"


def test_wait_uses_the_clock_and_sleep_it_is_given(server, env):
    VideoService(server, polls=10**9)
    from chatcli.config import load_config

    service = video.VideoService(load_config(str(env)).provider("zhipu"))
    task = service.submit("a boat")
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with pytest.raises(NetworkError, match="no video after 10 s"):
        video.wait(service, task, timeout=10, sleep=sleep, clock=lambda: now[0], intervals=video.poll_intervals({}))
    assert slept == [2.0, 2.5, 3.0, 2.5]  # 2 s growing to 5 s, the last cut to the timeout

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(Interrupted, match=f"chat video --task {task.id}"):
        video.wait(service, task, sleep=ctrl_c)


@pytest.mark.parametrize("argv, message", [
    ([], 'chat: say what the video shows: chat video "a man sailing a boat" (or --task ID)'),
    (["a boat", "--task", "t1"], "chat: give a prompt or --task ID, not both"),
    (["a boat", "--no-wait", "--download", "."], "chat: --download needs the video: drop --no-wait"),
    (["a boat", "--download", "/no/such/dir"], "chat: --download /no/such/dir: not a directory"),
    (["a boat", "--timeout", "0"], "chat: --timeout needs a number of seconds above 0 (got 0)"),
    (["a boat", "-p", "local"], "chat: provider 'local' is kind 'openai'; videos are made by Zhipu (e.g. -p zhipu)"),
])
def test_usage_errors_send_nothing(server, env, capsys, argv, message):
    VideoService(server)
    code, out, err = invoke(capsys, env, *argv)
    assert (code, out, err) == (2, "", message + "\n")
    assert server.requests == []


@pytest.fixture
def rig(tmp_path, server, env):
    """A REPL with /video-gen registered (until the test ends, unless the app registers it itself)."""
    import importlib

    from chatcli.repl import commands

    before = list(commands.COMMANDS)
    from chatcli.repl import video_cmd  # registers /video-gen on first import

    if commands.find("/video-gen") is None:  # imported by an earlier test, and unregistered after it
        importlib.reload(video_cmd)
    cfg = preset_config(tmp_path)
    cfg.providers["zhipu"].base_url = f"{server.url}/api/paas/v4"
    made = ReplRig(cfg)
    yield made
    made.close()
    commands.COMMANDS[:] = before


def test_video_gen_in_the_session(server, rig):
    fake = VideoService(server, polls=1)
    assert rig.run("/video-gen 一个开船的人") == 0
    task = next(iter(fake.polled))
    assert f"video: {fake.video_url(task)}\ncover: {server.url}/cdn/{task}.jpg\n" in rig.said()
    assert f"chat: video task {task} started" in rig.chat_lines()
    assert rig.session.provider_name == "qwen" and fake.submitted[0]["prompt"] == "一个开船的人"


def test_ctrl_c_in_video_gen_returns_to_the_prompt(server, rig):
    fake = VideoService(server, polls=5, interrupt_on_poll=1)
    assert rig.run("/video-gen a boat", "/video-gen") == 0  # the session goes on after Ctrl-C
    task = next(iter(fake.polled))
    assert f"chat: stopped waiting; the video is still being made: chat video --task {task}" in rig.chat_lines()
    assert "chat: usage: /video-gen PROMPT (e.g. /video-gen 一个开船的人)" in rig.chat_lines()


def test_ctrl_c_mid_download_leaves_no_partial_file(tmp_path):
    def chunks():
        yield b"abc"
        raise KeyboardInterrupt

    path = tmp_path / "t.mp4"
    with pytest.raises(KeyboardInterrupt):
        video._save(chunks(), path, 10, lambda got, total: None, "zhipu")
    assert not path.exists()
