"""Catalogue text made searchable in both languages: Chinese word pieces and name trigrams. No database here.

English goes to PostgreSQL's ``english`` text-search configuration (Snowball stems: "shoes" finds "shoe").
Chinese has no spaces between words, so it is segmented with jieba (the usual segmenter, installs from PyPI)
and indexed as its search-mode words plus single characters: a query for 鞋 finds 运动鞋, and 运动鞋 finds it
as one word. The query side segments the same way (``chinese_query_tokens``).

Typo tolerance ("runing shoe") corrects the query's words against the vocabulary of product names
(``CatalogueWord``): a name word whose character trigrams are mostly in the query's is taken as meant. PostgreSQL's
``pg_trgm`` does this comparison, but the embedded PostgreSQL of this project ships no contrib extensions, so the
trigrams are made here, stored in an array column with a GIN index, and compared in plain SQL. Comparing against
the distinct words (thousands) rather than every product name (100k) is what keeps it fast: bench/text_search.py
measured 0.7 s per typo query the other way.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@functools.cache
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # it logs its dictionary loading at INFO on first use
    jieba.initialize()
    return jieba


def chinese_index_tokens(text: str) -> list[str]:
    """The Chinese words of ``text`` for the index: jieba's search-mode words and every single character."""
    tokens: list[str] = []
    for run in CJK.findall(unicodedata.normalize("NFKC", text or "")):
        tokens.extend(word for word in _jieba().cut_for_search(run) if word.strip())
        tokens.extend(run)
    return tokens


def chinese_query_tokens(text: str) -> list[str]:
    """The Chinese words of a query (jieba's precise mode): all of them must match."""
    tokens: list[str] = []
    for run in CJK.findall(unicodedata.normalize("NFKC", text or "")):
        tokens.extend(word for word in _jieba().cut(run) if word.strip())
    return tokens


def latin_text(text: str) -> str:
    """The query without its Chinese runs: what the ``english`` configuration reads."""
    return CJK.sub(" ", unicodedata.normalize("NFKC", text or "")).strip()


def name_words(text: str) -> list[str]:
    """The Latin words of a name worth correcting a typo towards: lower case, letters and digits, 3-64 long."""
    words = _LATIN_WORD.findall(CJK.sub(" ", unicodedata.normalize("NFKC", text or "").lower()))
    return sorted({word for word in words if 3 <= len(word) <= 64 and word.isascii()})


def trigrams(text: str) -> list[str]:
    """pg_trgm's trigrams of the Latin words (lower case, each word padded with two spaces before, one after)."""
    found: set[str] = set()
    for word in _LATIN_WORD.findall(CJK.sub(" ", unicodedata.normalize("NFKC", text or "").lower())):
        padded = f"  {word} "
        found.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return sorted(found)
