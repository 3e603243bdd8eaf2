"""Tokenization shared by every backend, so full-text search answers the same everywhere.

Text is lowercased and split into word tokens (letters, digits, underscore). Han and kana
characters become one token each, so a Chinese word is searched as a phrase of its characters:
`连接` matches "数据库连接超时" (adjacent) but not "支付接口返回错误" (only 接 appears).
Backends index the space-joined tokens with a whitespace tokenizer and never re-analyse them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, wraps
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

_WORD = re.compile(r"\w+")
# Han (incl. extension A and compatibility ideographs), hiragana and katakana.
_CJK_CLASS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK = re.compile(f"[{_CJK_CLASS}]")
_SPLIT_CJK = re.compile(f"[{_CJK_CLASS}]|[^{_CJK_CLASS}]+")


def tokenize(text: str) -> list[str]:
    """Split `text` into lowercase search tokens."""
    words = _WORD.findall(text.lower())
    if not _CJK.search(text):
        return words
    out: list[str] = []
    for word in words:
        if _CJK.search(word):
            out.extend(_SPLIT_CJK.findall(word))
        else:
            out.append(word)
    return out


def index_text(text: str | list[str] | None) -> str:
    """The token string a backend stores for full-text matching."""
    if not text:
        return ""
    if isinstance(text, list):
        text = "\n".join(text)
    return _index_str(text)


def cache_short(max_chars: int, maxsize: int) -> Callable[[F], F]:
    """`lru_cache` for a function of a text (plus hashable arguments) that caches only texts
    up to `max_chars` long, so whatever texts arrive, the cache stays under
    `maxsize * max_chars` characters; longer ones are computed every time."""

    def wrap(fn: F) -> F:
        cached = lru_cache(maxsize=maxsize)(fn)

        @wraps(fn)
        def call(text: str, *args: Any) -> Any:
            return cached(text, *args) if len(text) <= max_chars else fn(text, *args)

        return cast(F, call)

    return wrap


#: Texts up to this long are cached (4096 of them: ~130 MB at worst, ~10 MB typically).
_CACHED_CHARS = 32 * 1024


@cache_short(_CACHED_CHARS, 4096)
def _index_str(text: str) -> str:
    # Every occurrence of a bug usually carries the same stack trace: tokenizing it costs
    # ~100 us per 2 KB, looking it up here ~1 us.
    return " ".join(tokenize(text))
