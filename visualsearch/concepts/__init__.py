"""Words -> ImageNet concepts: what lets a text query find products by what their pictures show. No Django here.

The offline models' ImageNet heads map each picture to 1,000 concepts (see ``embedding.EmbeddedBatch``). This
module maps a shopper's words to those concepts through a vocabulary written by the project
(``imagenet.tsv``: torchvision's English class names, English synonyms and shop words, Simplified Chinese
names), and splits the rest of the query into colour words and plain words for full-text search.

English is matched on Snowball stems ("shoes" = "shoe"), Chinese on characters; the longest term wins, so
"running shoes" is the one class and "shoe" alone every kind of shoe, and 红酒 (red wine) is not the colour 红.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..colours import colour_terms

VOCABULARY = Path(__file__).with_name("imagenet.tsv")

# Words shoppers put around what they want ("something like this but red"): they name nothing to look for, and
# left in the full-text part they would make it match nothing.
FILLER_EN = frozenset(
    "a an the this that these those one some any something anything like similar same such as but with without "
    "for of in on to and or me my i we want need looking look find show please kind sort type style".split()
)
FILLER_ZH = ("我想要", "我要", "想要", "类似", "一样", "这个", "那个", "一个", "一些", "有没有", "找", "要", "的", "个", "像", "但是", "请")

_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


@functools.cache
def _stemmer():
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def _stems(text: str) -> tuple[str, ...]:
    words = _WORD.findall(unicodedata.normalize("NFKC", text).lower().replace("’", "'"))
    return tuple(_stemmer().stemWords([word.replace("'s", "").replace("'", "") for word in words]))


@dataclass(frozen=True)
class Concept:
    index: int
    english: str
    """torchvision's ImageNet class name."""
    chinese: str
    """The project's Simplified Chinese name (the first of the vocabulary's Chinese terms)."""


@dataclass(frozen=True)
class Vocabulary:
    concepts: tuple[Concept, ...]
    english_terms: dict[tuple[str, ...], frozenset[int]]
    """Stemmed English term -> the concepts it names."""
    chinese_terms: dict[str, frozenset[int]]
    longest_english: int
    longest_chinese: int


@functools.cache
def vocabulary(path: Path = VOCABULARY) -> Vocabulary:
    concepts: list[Concept] = []
    english: dict[tuple[str, ...], set[int]] = {}
    chinese: dict[str, set[int]] = {}
    with path.open(encoding="utf-8") as handle:
        next(handle)  # header
        for line in handle:
            index_text, name, synonyms, chinese_names = line.rstrip("\n").split("\t")
            index = int(index_text)
            zh_terms = [term.strip() for term in re.split(r"[,，、]", chinese_names) if term.strip()]
            concepts.append(Concept(index=index, english=name, chinese=zh_terms[0] if zh_terms else name))
            for term in [name, *synonyms.split(",")]:
                stems = _stems(term)
                if stems:
                    english.setdefault(stems, set()).add(index)
            for term in zh_terms:
                chinese.setdefault(term, set()).add(index)
    if [concept.index for concept in concepts] != list(range(len(concepts))):
        raise ValueError(f"{path}: concept indexes must run 0..n-1 in order")
    return Vocabulary(
        concepts=tuple(concepts),
        english_terms={key: frozenset(value) for key, value in english.items()},
        chinese_terms={key: frozenset(value) for key, value in chinese.items()},
        longest_english=max(map(len, english), default=1),
        longest_chinese=max(map(len, chinese), default=1),
    )


@dataclass(frozen=True)
class ParsedQuery:
    concepts: dict[int, float] = field(default_factory=dict)
    """Concept index -> weight (1 for each concept a matched term names)."""
    concept_terms: tuple[str, ...] = ()
    """The words that were read as concepts, as the shopper typed them."""
    colours: tuple[str, ...] = ()
    """Palette keys (``visualsearch.colours``) the words name."""
    words: str = ""
    """Everything else, for full-text search (English words, Chinese runs)."""

    @property
    def is_empty(self) -> bool:
        return not (self.concepts or self.colours or self.words)


@functools.cache
def _colour_terms() -> tuple[dict[tuple[str, ...], str], dict[str, str]]:
    english, chinese = {}, {}
    for term, key in colour_terms().items():
        if _CJK.fullmatch(term):
            chinese[term] = key
        else:
            english[_stems(term)] = key
    return english, chinese


def query_parse(text: str, *, vocabulary_path: Path = VOCABULARY) -> ParsedQuery:
    """Split a shopper's query into concepts, colours and plain words (longest match first, left to right)."""
    vocab = vocabulary(vocabulary_path)
    colour_en, colour_zh = _colour_terms()
    concepts: dict[int, float] = {}
    terms: list[str] = []
    colours: list[str] = []
    words: list[str] = []
    text = unicodedata.normalize("NFKC", text)[:200]

    # Latin part: the stems of the words, with their original spelling kept for the full-text part.
    latin = _CJK.sub(" ", text)
    originals = _WORD.findall(latin.lower().replace("’", "'"))
    stems = _stems(latin)
    position = 0
    while position < len(stems):
        for length in range(min(vocab.longest_english, len(stems) - position), 0, -1):
            key = stems[position : position + length]
            if key in vocab.english_terms:
                for index in vocab.english_terms[key]:
                    concepts[index] = 1.0
                terms.append(" ".join(originals[position : position + length]))
                break
            if key in colour_en:
                colours.append(colour_en[key])
                break
        else:
            length = 1
            if originals[position] not in FILLER_EN:
                words.append(originals[position])
        position += length

    # Chinese runs: characters, longest term first; what no term covers goes to full text as it is.
    for run in _CJK.findall(text):
        position, rest = 0, []
        while position < len(run):
            for length in range(min(max(vocab.longest_chinese, 4), len(run) - position), 0, -1):
                piece = run[position : position + length]
                if piece in vocab.chinese_terms:
                    for index in vocab.chinese_terms[piece]:
                        concepts[index] = 1.0
                    terms.append(piece)
                    break
                if piece in colour_zh:
                    colours.append(colour_zh[piece])
                    break
                if piece in FILLER_ZH:
                    break
            else:
                length = 1
                rest.append(run[position])
                position += 1
                continue
            if rest:
                words.append("".join(rest))
                rest = []
            position += length
        if rest:
            words.append("".join(rest))
    return ParsedQuery(
        concepts=concepts,
        concept_terms=tuple(terms),
        colours=tuple(dict.fromkeys(colours)),
        words=" ".join(words),
    )
