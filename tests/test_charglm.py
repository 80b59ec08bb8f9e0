"""CharacterGLM: a request's `meta` (the persona) reaches chat.completions' body exactly as given.

The real zhipuai SDK runs in-process against the loopback server; other requests carry no `meta`.
"""

from __future__ import annotations

import pytest

from chatcli.config import load_config
from chatcli.core.messages import ChatRequest, Message, TextDelta
from chatcli.providers.registry import create_provider
from tests import fakeserver as fs

META = {
    "user_info": "我是陆星辰，是一个男性，是一位知名导演，也是苏梦远的合作导演。",
    "bot_info": "苏梦远，本名苏远心，是一位当红的国内女歌手及演员。在表达时，苏梦远喜欢使用“我们”和“一起”。",
    "bot_name": "苏梦远",
    "user_name": "陆星辰",
}


@pytest.fixture
def zhipu(chat, monkeypatch):
    monkeypatch.setenv("ZHIPUAI_API_KEY", chat.env["ZHIPUAI_API_KEY"])
    return create_provider(load_config(str(chat.config)).provider("zhipu"))


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])
def test_meta_is_sent_as_given(server, zhipu, stream):
    server.queue(fs.zhipu_text(["我们", "一起拍戏"]))
    request = ChatRequest([Message("user", "请问你在做什么")], "charglm-4", stream=stream, meta=dict(META))
    text = "".join(e.text for e in zhipu.stream(request) if isinstance(e, TextDelta))
    assert text == "我们一起拍戏"
    body = fs.completions(server)[-1].json
    assert body["meta"] == META and body["model"] == "charglm-4" and body["stream"] is stream
    assert request.meta == META  # not changed in place


@pytest.mark.parametrize("meta", [None, {}], ids=["none", "empty"])
def test_no_meta_without_a_persona(server, zhipu, meta):
    server.queue(fs.zhipu_text(["hi"]))
    list(zhipu.stream(ChatRequest([Message("user", "hi")], "glm-4-flash", meta=meta)))
    assert "meta" not in fs.completions(server)[-1].json
