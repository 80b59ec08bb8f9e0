"""Kinsoku line breaking: CJK punctuation in its place, everything else exactly as Rich wraps it."""

from __future__ import annotations

import io

import pytest
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from chatcli.ui.kinsoku import NO_END, NO_START, SMALL_KANA, KinsokuText, break_offsets

POEM = "床前明月光，疑是地上霜。举头望明月，低头思故乡。"
PARAGRAPHS = [
    POEM * 3,
    "他说：「今天天气很好。」然后（笑着）走了……我们也走吧！好吗？“当然，”她回答。",
    "東京は日本の首都です。ちょっと待ってください、すぐに行きます。「わかった」とキャットは言った。",
    "混合English文本，含有ASCII标点,比如这个.还有这个;以及(括号)和[方括号]!",
    "《红楼梦》【重要】〔注〕〈一〉‘单引号’中的内容、顿号、分号；冒号：问号？叹号！",
    "コーヒーを飲みましょう。ちょっとショッピングにも行きたいです。キャッシュレス決済・ポイントカード対応ッ。ヵ月ぁ",
]
CLOSING = set(NO_START) - set(",.;:?!)]}")


def rendered(text: Text, width: int, **options) -> list[str]:
    """The lines Rich renders for text at width (as inside a Markdown element)."""
    console = Console(file=io.StringIO(), width=width, color_system=None, legacy_windows=False)
    lines = console.render_lines(text, console.options.update(**options), pad=False)
    return ["".join(segment.text for segment in line) for line in lines]


def _wide(ch: str) -> bool:
    return cell_len(ch) == 2


@pytest.mark.parametrize("paragraph", PARAGRAPHS)
@pytest.mark.parametrize("width", range(10, 41))
def test_cjk_lines_keep_the_rules(paragraph, width):
    lines = rendered(KinsokuText(paragraph), width)
    assert "".join(lines) == paragraph  # nothing lost, added or reordered
    for n, line in enumerate(lines):
        assert cell_len(line) <= width, (width, line)
        if n:
            prev = lines[n - 1]
            assert line[0] not in CLOSING, (width, lines)
            assert not (line[0] in ",.;:?!)]}" and _wide(prev[-1])), (width, lines)
            assert prev[-1] not in NO_END, (width, lines)


def test_plain_rich_breaks_the_rules_here():
    """The cases above are real: Rich's own wrap puts closing marks first (if this fails, Rich learned kinsoku)."""
    assert any(line[0] in CLOSING for line in rendered(Text(POEM * 3), 10)[1:])


def test_break_offsets_pulls_a_character_down():
    assert break_offsets(POEM, 10) == [4, 9, 14, 19]  # Rich breaks at 5, 10, 15, 20: `光，` go down together
    assert break_offsets(POEM, 12) == [6, 12, 18]  # already fine
    assert break_offsets("abc", 10) == [] and break_offsets("", 10) == []


def test_opening_bracket_goes_down_with_the_next_character():
    text = "一二三四「五六七八」"
    assert rendered(Text(text), 10) == ["一二三四「", "五六七八」"]
    assert rendered(KinsokuText(text), 10) == ["一二三四", "「五六七", "八」"]


def test_a_line_is_never_emptied():
    """Width for one character only: the rule yields rather than lose text or loop."""
    lines = rendered(KinsokuText("一，二，三"), 3)
    assert "".join(lines) == "一，二，三" and all(cell_len(line) <= 3 for line in lines)


def test_styles_survive_the_moved_break():
    text = KinsokuText()
    text.append("床前明月", "bold")
    text.append("光，疑是地上霜。", "italic")
    console = Console(file=io.StringIO(), width=10, color_system=None)
    lines = console.render_lines(text, console.options, pad=False)
    styled = [(seg.text, bool(seg.style and seg.style.bold)) for seg in lines[1] if seg.text]
    assert styled[0] == ("光，疑是地", False)


def test_copy_append_and_assemble_keep_the_class():
    text = KinsokuText("床前", justify="left")
    text.append("明月光")
    assert type(text.copy()) is KinsokuText and text.copy().justify == "left"
    assert type(text + "，") is KinsokuText
    assert type(KinsokuText.assemble("a", ("b", "bold"))) is KinsokuText
    copy = text.copy()
    copy.stylize("bold", 0, 2)
    assert copy.spans and not text.spans  # spans copied, not shared


def test_markdown_paragraph_holding_kinsoku_text():
    """A Markdown element whose text is a KinsokuText renders by its rules (how mdelements uses it)."""
    from rich.markdown import Paragraph

    paragraph = Paragraph(justify="left")
    paragraph.text = KinsokuText(justify="left")
    paragraph.text.append(POEM * 2, "bold")
    console = Console(file=io.StringIO(), width=10, color_system=None)
    lines = ["".join(s.text for s in line).rstrip() for line in console.render_lines(paragraph, console.options)]
    assert lines[:2] == ["床前明月", "光，疑是地"]
    assert all(line[:1] not in CLOSING for line in lines)


# --- everything else exactly as Rich ------------------------------------------------------------------------

LATIN = [
    "The quick brown fox jumps over the lazy dog. " * 4,
    "supercalifragilisticexpialidocious-and-then-some-more-words-without-spaces here",
    "  leading spaces, trailing spaces   ",
    "tabs\tand\tmore\ttabs\there",
    "Punctuation (in brackets), quotes “like these” and ‘these’; ellipsis… and dashes — too!",
    "(a) [b] {c} x.y,z;w:v?u!t) — folded mid-word: aaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbb,cccccccccc",
    "Ünïcödé wörds, émojis 🎉🎉 and combining e\u0301 marks",
    "line one\nline two is longer than the others by far\n\nafter a blank line",
    "x" * 95,
    "",
]


def _styled(cls: type[Text], plain: str, **kw) -> Text:
    text = cls(plain, **kw)
    for start in range(0, len(plain), 7):
        text.stylize("bold" if start % 2 else "italic", start, start + 4)
    return text


@pytest.mark.parametrize("plain", LATIN)
@pytest.mark.parametrize("justify", [None, "left", "center", "right", "full"])
@pytest.mark.parametrize("overflow", [None, "fold", "crop", "ellipsis"])
def test_non_cjk_text_wraps_exactly_as_rich(plain, justify, overflow):
    """A Rich upgrade that changes Text.wrap shows up here: KinsokuText copies its structure."""
    console = Console(file=io.StringIO(), width=80, color_system=None)
    for width in (1, 5, 9, 17, 30, 60):
        ours = _styled(KinsokuText, plain, justify=justify, overflow=overflow).wrap(console, width)
        theirs = _styled(Text, plain, justify=justify, overflow=overflow).wrap(console, width)
        assert [(t.plain, t.spans) for t in ours] == [(t.plain, t.spans) for t in theirs], width


@pytest.mark.parametrize("no_wrap, overflow", [(True, None), (True, "ellipsis"), (False, "ignore"), (None, None)])
def test_no_wrap_and_ignore_as_rich(no_wrap, overflow):
    console = Console(file=io.StringIO(), width=80, color_system=None)
    plain = LATIN[0] + POEM
    for width in (7, 20):
        ours = KinsokuText(plain, no_wrap=no_wrap).wrap(console, width, overflow=overflow, tab_size=4)
        theirs = Text(plain, no_wrap=no_wrap).wrap(console, width, overflow=overflow, tab_size=4)
        assert [t.plain for t in ours] == [t.plain for t in theirs]


@pytest.mark.parametrize("plain", LATIN)
def test_rendered_output_identical(plain):
    for width in (10, 33, 80):
        assert rendered(KinsokuText(plain), width) == rendered(Text(plain), width)


def test_rule_sets_are_what_the_docs_say():
    assert "，" in NO_START and "ー" in NO_START and "っ" in SMALL_KANA and "「" in NO_END and "“" in NO_END


@pytest.mark.parametrize("fold", [True, False])
def test_long_text_breaks_as_rich(fold):
    """Long words are chopped a chunk at a time; the breaks must still be Rich's."""
    from rich._wrap import divide_line  # Rich's own, to compare with

    text = "lorem ipsum dolor sit amet, " * 60 + "x" * 700 + " tail " + "é\u0301" * 300
    for width in (1, 2, 7, 80):
        assert break_offsets(text, width, fold=fold) == divide_line(text, width, fold=fold), width


def test_long_cjk_paragraph_keeps_the_rules():
    text = "他说：「今天天气很好。」然后（笑着）走了……" * 200
    lines = rendered(KinsokuText(text), 30)
    assert "".join(lines) == text and all(cell_len(line) <= 30 for line in lines)
    assert not any(line[0] in CLOSING or lines[n][-1] in NO_END for n, line in enumerate(lines[1:]))
