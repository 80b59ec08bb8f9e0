"""Conversation store at scale: resume the last conversation, list 50, search a word.

Builds 10,000 conversations of 20 messages (mixed Chinese/English, 100-400 characters each) once in a
temporary directory, then times each operation from a fresh `Store.open` (median of several runs).
Target: every operation < 50 ms, except a one-character search for a character that appears in no
message: one character is below the trigram index, so that search scans every message to find
nothing (a known cost, printed but not a target). The last line says `all targets met` or
`missed: ...` (exit status 1). A full run takes about two minutes, mostly building the database;
--quick builds 1,000 conversations and times 3 runs each.

Usage, from the repository root: python -m bench.store [--quick] [--conversations N] [--runs N] [--keep DIR]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chatcli.store.store import Store

TARGET_MS = 50.0
ENGLISH = """the model weather forecast python database query latency token stream answer question server
request timeout retry context window prompt system user function call result error network config terminal
markdown table index search history session memory cache thread process file directory permission release
version update schema migration benchmark""".split()
CHINESE = """北京 上海 天气 今天 明天 模型 问题 回答 数据库 查询 搜索 历史 会话 终端 配置 网络 错误 请求 超时 重试
上下文 提示词 系统 用户 函数 调用 结果 文件 目录 权限 版本 更新 迁移 性能 测试 温度 下雨 晴天 阴天 多云 空气 质量 出门
记得 带伞 因为 所以 但是 如果 可以 需要 应该""".split()
RARE_EN, RARE_ZH = "kubernetes", "量子计算机"  # each in about 25 of the 200,000 messages


def sentence(rng: random.Random) -> str:
    if rng.random() < 0.5:
        words = rng.choices(ENGLISH, k=rng.randint(6, 14))
        return " ".join(words).capitalize() + rng.choice(".?!")
    return "".join(rng.choices(CHINESE, k=rng.randint(5, 12))) + rng.choice("。？！")


def text(rng: random.Random) -> str:
    out = ""
    size = rng.randint(100, 400)
    while len(out) < size:
        out += sentence(rng) + " "
    if rng.random() < 1 / 4000:
        out += rng.choice((RARE_EN, RARE_ZH))
    return out.strip()


def build(path: Path, conversations: int, per: int = 20) -> float:
    """Fill the database through the store's own schema; returns seconds taken."""
    start = time.perf_counter()
    Store.open(path, print).close()
    rng = random.Random(42)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    t0 = time.time() - conversations * 60.0
    batch = 500
    for first in range(0, conversations, batch):
        convs, msgs = [], []
        for n in range(first, min(first + batch, conversations)):
            cid = f"{n:08d}"
            created = t0 + n * 60.0
            texts = [text(rng) for _ in range(per)]
            convs.append((cid, texts[0][:60], created, created + per, "qwen", "qwen-plus", None))
            for i, body in enumerate(texts):
                role = "user" if i % 2 == 0 else "assistant"
                usage = '{"prompt_tokens": 100, "completion_tokens": 80, "total_tokens": 180}' if i % 2 else None
                msgs.append((cid, role, body, None, None, None, None, None, "qwen", "qwen-plus", usage,
                             created + i, 0, 0))
        db.execute("BEGIN")
        db.executemany("INSERT INTO conversations (id, title, created, updated, provider, model, system)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?)", convs)
        db.executemany("INSERT INTO messages (conversation_id, role, content, parts, reasoning, tool_calls,"
                       " tool_call_id, name, provider, model, usage, created, interrupted, failed)"
                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", msgs)
        db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("ANALYZE")
    db.close()
    return time.perf_counter() - start


def timed(path: Path, runs: int, op) -> tuple[float, object]:
    """Median milliseconds of op(store) over runs, each from a fresh Store.open."""
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        store = Store.open(path, print)
        result = op(store)
        store.close()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a smoke test: 1,000 conversations, 3 runs each")
    parser.add_argument("--conversations", type=int, help="conversations to build (default 10,000, quick 1,000)")
    parser.add_argument("--runs", type=int, help="runs per operation, the median counts (default 9, quick 3)")
    parser.add_argument("--keep", metavar="DIR", help="build into (or reuse) DIR/chat.db instead of a temp dir")
    args = parser.parse_args()
    conversations = args.conversations or (1_000 if args.quick else 10_000)
    runs = args.runs or (3 if args.quick else 9)
    missed: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(args.keep or tmp) / "chat.db"
        if not path.exists():
            seconds = build(path, conversations)
            print(f"built {conversations:,} conversations x 20 messages in {seconds:.1f} s")
        size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
        print(f"database: {size:.0f} MB, SQLite {sqlite3.sqlite_version}\n")
        cases = [
            ("open only", lambda s: None),
            ("resume last (last_id + messages)", lambda s: len(s.messages(s.last_id()))),
            ("list 50", lambda s: len(s.list(50))),
            (f"search '{RARE_EN}' (rare, FTS)", lambda s: len(s.search(RARE_EN))),
            ("search 'weather' (common, FTS)", lambda s: len(s.search("weather"))),
            (f"search '{RARE_ZH}' (rare, FTS)", lambda s: len(s.search(RARE_ZH))),
            ("search '数据库' (common, FTS)", lambda s: len(s.search("数据库"))),
            ("search '天气' (2 chars, common: trigram prefixes)", lambda s: len(s.search("天气"))),
            ("search '量子' (2 chars, rare: trigram prefixes)", lambda s: len(s.search("量子"))),
            ("search 'zebra' (absent, FTS)", lambda s: len(s.search("zebra"))),
            ("search '熊猫' (2 chars, absent)", lambda s: len(s.search("熊猫"))),
            ("search 'th' (2 ASCII chars, common)", lambda s: len(s.search("th"))),
            ("search '晴' (1 char: LIKE scan)", lambda s: len(s.search("晴"))),
        ]
        known = [("search '熊' (1 char, absent: full LIKE scan)", lambda s: len(s.search("熊")))]  # not a target
        print(f"{'operation':52} {'median':>9}  {'target':>7}  rows")
        for name, op in cases + known:
            ms, rows = timed(path, runs, op)
            target = name not in dict(known)
            verdict = "known non-target" if not target else "ok" if ms < TARGET_MS else "SLOW"
            missed += [f"{name} ({ms:.1f} ms)"] if verdict == "SLOW" else []
            pad = " " * (52 - sum(2 if "\u4e00" <= ch <= "\u9fff" else 1 for ch in name))
            limit = f"<{TARGET_MS:.0f} ms" if target else "none"
            print(f"{name}{pad} {ms:7.1f} ms  {limit:>7}  {rows if rows is not None else '':>4}  {verdict}")
    print("missed: " + "; ".join(missed) if missed else "all targets met")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
