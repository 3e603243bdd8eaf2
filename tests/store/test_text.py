"""The shared tokenizer: the same tokens for a text whether or not its result is cached."""

from __future__ import annotations

from store.text import _CACHED_CHARS, cache_short, index_text, tokenize


def test_words_are_lowercased_and_han_characters_stand_alone() -> None:
    assert tokenize("DB 连接超时: Pool_Size=5") == ["db", "连", "接", "超", "时", "pool_size", "5"]


def test_lists_are_joined_as_lines() -> None:
    assert index_text(["File a.py, line 3", "ValueError: bad"]) == "file a py line 3 valueerror bad"
    assert index_text(None) == "" and index_text([]) == ""


def test_long_texts_bypass_the_cache_with_the_same_tokens() -> None:
    line = "Traceback 数据库连接 timeout at pool.py:42\n"
    long = line * (_CACHED_CHARS // len(line) + 2)
    short = line * 3
    assert len(long) > _CACHED_CHARS >= len(short)
    assert index_text(long) == " ".join(tokenize(long))
    assert index_text(long).split()[:9] == index_text(short).split()[:9]
    assert index_text(short) == index_text(short)  # the cached answer equals the first


def test_cache_short_caches_short_texts_only() -> None:
    calls: list[str] = []

    @cache_short(8, 16)
    def size(text: str, unit: int) -> int:
        calls.append(text)
        return len(text) // unit

    assert [size("short", 1), size("short", 1), size("short", 5)] == [5, 5, 1]
    assert [size("long text", 1), size("long text", 1)] == [9, 9]
    # "short" computed once per distinct argument tuple; the long text every time.
    assert calls == ["short", "short", "long text", "long text"]
