"""Chinese word segmentation for triage (jieba), with the hazard taxonomy's cue words in its dictionary.

Used for the model's word features and to cut evidence at word boundaries. jieba ships its dictionary; the
first call builds the prefix dictionary (about 0.7 s, cached by jieba in the temp directory).
"""

from __future__ import annotations

import itertools
import logging
import re
import threading

import jieba

from services.triage import hazards, rules

_lock = threading.Lock()
_tokenizer: jieba.Tokenizer | None = None
_WORD = re.compile(r"[\w\u4e00-\u9fff]")  # a token with at least one letter, digit or Chinese character
_CJK = re.compile(r"[\u4e00-\u9fff]{2,}")


def tokenizer() -> jieba.Tokenizer:
    """The shared jieba tokenizer, taught the taxonomy's and categories' words once per process."""
    global _tokenizer
    with _lock:
        if _tokenizer is None:
            jieba.setLogLevel(logging.WARNING)
            tok = jieba.Tokenizer()
            tok.initialize()
            words = hazards.cue_words() | {w for ws in rules.CATEGORY_KEYWORDS.values() for w in ws if len(w) >= 2}
            for word in sorted(words):
                tok.add_word(word, freq=2000)  # high enough to win over a split, low enough to keep common words
            _tokenizer = tok
    return _tokenizer


def words(text: str) -> list[str]:
    """The words of `text` (punctuation and spaces dropped)."""
    return [w for w in tokenizer().lcut(text, HMM=True) if _WORD.search(w)]


def word_grams(text: str) -> list[str]:
    """Word unigrams and bigrams (joined by a space): the model's word features."""
    ws = words(text)
    return ws + [f"{a} {b}" for a, b in itertools.pairwise(ws)]


def is_display_word(token: str) -> bool:
    """A token worth showing a person as evidence: a Chinese word of two characters or more."""
    return bool(_CJK.fullmatch(token))
