"""What a person sees in a real terminal at 60 columns: long blocks while they stream, Chinese text,
the spinner, /copy and /edit. Through a pseudo-terminal read back with pyte (tests/ptyharness.py)."""

from __future__ import annotations

import base64
import re
import sys
import threading

from tests import fakeserver as fs
from tests.fakeserver import completions
from tests.ptyharness import ENTER, QWEN, Tty, say

CLOSING = "，。、；：？！）」』》"
CODE = [f"value_{i:03d} = {i}  # 第{i}行" for i in range(300)]
POEM = "床前明月光，\n疑是地上霜。\n举头望明月，\n低头思故乡。\n\n"
PARAGRAPH = "这是一个很长的中文段落，用来看换行的规则。" * 8 + "\n\n"


def test_a_long_answer_is_readable_from_its_first_line_while_it_streams(chat, server):
    gate, first = threading.Event(), threading.Event()
    chunks = [POEM, PARAGRAPH, "```python\n", *(line + "\n" for line in CODE), "```\n\nDone.\n"]
    before = fs.gated(fs.dashscope_text(chunks), 0, first)  # nothing until `first`: the spinner shows
    server.queue(fs.gated(before, 2 + 1 + 1 + 150, gate))  # then half the code block, and a pause
    tty = Tty(chat.env, "ask", "hi", rows=20, cols=60)
    try:
        tty.wait_text("thinking…")
        tty.wait_for(lambda: re.search(r"thinking… [1-9]\.\d s", tty.text()), what="the seconds counting")
        first.set()
        tty.wait_text("value_140 = 140")
        shown = tty.text().splitlines()
        assert "thinking…" not in tty.text()
        # the block's first line, its label and everything before it are on screen or in the scrollback
        assert shown[:4] == ["床前明月光，", "疑是地上霜。", "举头望明月，", "低头思故乡。"]
        assert "[1] python" in shown and "value_000 = 0  # 第0行" in shown
        gate.set()
        assert tty.wait_exit() == 0
        lines = tty.text().splitlines()
    finally:
        tty.close()
    code = [line for line in lines if line.startswith("value_")]
    assert code == CODE  # each code line once, in order, flush left (copies without an indent)
    body = [line for line in lines if "中文段落" in line or "规则" in line]
    assert len(body) > 3 and all(line[:1] not in CLOSING for line in lines if line)
    assert "".join(body) == PARAGRAPH.strip()  # wrapped, nothing lost
    assert lines[-1] == "Done."


def test_copy_sends_the_code_block_by_osc_52_and_edit_uses_the_editor(chat, server, tmp_path):
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\nopen(sys.argv[1], 'w').write('written in the editor')\n")
    env = {**chat.env, "EDITOR": f"{sys.executable} {editor}", "VISUAL": ""}
    env.pop("DISPLAY", None), env.pop("WAYLAND_DISPLAY", None)
    tty = Tty(env, rows=20, cols=60)
    try:
        tty.wait_prompt(QWEN)
        say(tty, server, "code please", fs.dashscope_text(["Two:\n\n```sh\necho one\n```\n\n```py\nprint(2)\n```\n"]))
        screen = tty.text()
        assert "[1] sh" in screen and "[2] py" in screen
        tty.send("/copy 1" + ENTER)
        tty.wait_text("copied code block 1 of 2")
        assert b"\x1b]52;c;" + base64.b64encode(b"echo one") + b"\x07" in tty.raw
        tty.wait_prompt(QWEN)
        n = server.responses_done
        server.queue(fs.dashscope_text(["got it"]))
        tty.send("/edit" + ENTER)
        server.wait_responses(n + 1)
        tty.wait_text("got it")
        assert completions(server)[-1].json["messages"][-1] == {"role": "user", "content": "written in the editor"}
    finally:
        tty.close()
