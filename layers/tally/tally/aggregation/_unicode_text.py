"""Unicode helpers for the free-text consensus: grapheme clusters, normalisation, words.

Private to :mod:`tally.aggregation.text`. Everything here works on *grapheme clusters* (what a reader
sees as one character), so a comparison never splits an accent from its letter, an emoji from its skin
tone, a ZWJ family into its members or a flag into its two regional indicators.

Grapheme clusters follow the extended grapheme cluster rules of Unicode's UAX #29
(https://www.unicode.org/reports/tr29/) in the parts that occur in typed text, with the standard
library's ``unicodedata`` only: a cluster extends over combining marks (categories Mn, Mc, Me, which
include the variation selectors), zero width joiners and the character after one, emoji modifiers
(U+1F3FB–U+1F3FF), tag characters (U+E0020–U+E007F, subdivision flags), Hangul conjoining vowels and
finals after a leading jamo or syllable, CR LF, and pairs of regional indicators (flags). Prepended
concatenation marks (rare Arabic/Syriac number signs) are not joined.
"""

from __future__ import annotations

import string
import unicodedata
from functools import lru_cache

__all__ = ["graphemes", "normalize", "tokens", "unspaced", "word_key"]

_ZWJ = "\u200d"
_ASCII_PUNCTUATION = string.punctuation


def _extends(char: str) -> bool:
    """Whether ``char`` continues the grapheme cluster before it (besides ZWJ and flags)."""
    code = ord(char)
    if 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F or code == 0x200C:
        return True
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def graphemes(text: str) -> list[str]:
    """The grapheme clusters of ``text`` (module docstring).

    Examples:
        >>> [len(g) for g in graphemes("e\\u0301te\\u0301")]  # é as e + combining acute, twice
        [2, 1, 2]
        >>> graphemes("👍🏽 🇫🇷 👨\\u200d👩\\u200d👧")  # skin tone, a flag, a ZWJ family
        ['👍🏽', ' ', '🇫🇷', ' ', '👨\\u200d👩\\u200d👧']
    """
    if text.isascii():
        return _ascii_graphemes(text)
    out: list[str] = []
    joined = False  # the previous character was a ZWJ: this one joins
    regional_run = 0
    for char in text:
        if out and (
            joined
            or char == _ZWJ
            or _extends(char)
            or _hangul_continues(out[-1], char)
            or (_is_regional(char) and regional_run % 2 == 1)
            or (char == "\n" and out[-1].endswith("\r"))
        ):
            out[-1] += char
        else:
            out.append(char)
        joined = char == _ZWJ
        regional_run = regional_run + 1 if _is_regional(char) else 0
    return out


def _ascii_graphemes(text: str) -> list[str]:
    if "\r\n" not in text:
        return list(text)
    out: list[str] = []
    for char in text:
        if char == "\n" and out and out[-1] == "\r":
            out[-1] = "\r\n"
        else:
            out.append(char)
    return out


def _hangul_continues(previous: str, char: str) -> bool:
    """A conjoining vowel or final jamo after a leading jamo, vowel or a syllable block."""
    code = ord(char)
    if not 0x1160 <= code <= 0x11FF:
        return False
    last = ord(previous[-1])
    return 0x1100 <= last <= 0x11FF or 0xAC00 <= last <= 0xD7A3


def unspaced(char: str) -> bool:
    """Whether ``char`` belongs to a script written without spaces between words (Han, kana, Thai,
    Lao, Khmer, Myanmar, Tibetan), or is CJK punctuation or a full-width form. Such text is compared
    and voted one grapheme at a time.

    Examples:
        >>> unspaced("東"), unspaced("カ"), unspaced("a"), unspaced("한")
        (True, True, False, False)
    """
    code = ord(char)
    return (
        0x2E80 <= code <= 0x2FDF  # CJK radicals
        or 0x3000 <= code <= 0x30FF  # CJK symbols and punctuation, hiragana, katakana
        or 0x31F0 <= code <= 0x31FF  # katakana phonetic extensions
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # CJK compatibility ideographs
        or 0xFF00 <= code <= 0xFFEF  # half-width and full-width forms
        or 0x0E00 <= code <= 0x0EFF  # Thai, Lao
        or 0x0F00 <= code <= 0x0FFF  # Tibetan
        or 0x1000 <= code <= 0x109F  # Myanmar
        or 0x1780 <= code <= 0x17FF  # Khmer
        or 0x20000 <= code <= 0x3FFFF  # CJK extensions B and later
    )


def tokens(text: str) -> list[tuple[str, bool]]:
    """The words of ``text`` with whether whitespace came before each (the first word: ``True``).

    Words are separated by whitespace; inside a run of non-space characters, each grapheme of a script
    written without spaces (:func:`unspaced`) is a word of its own, so Chinese, Japanese or Thai text is
    aligned and voted character by character.

    Examples:
        >>> tokens("Hello,  world!")
        [('Hello,', True), ('world!', True)]
        >>> tokens("東京タワー is tall")
        [('東', True), ('京', False), ('タ', False), ('ワ', False), ('ー', False), ('is', True), ('tall', True)]
    """
    if text.isascii():
        return [(word, True) for word in text.split()]
    out: list[tuple[str, bool]] = []
    for chunk in text.split():
        run = ""
        first = True
        for cluster in graphemes(chunk):
            if unspaced(cluster[0]):
                if run:
                    out.append((run, first))
                    first, run = False, ""
                out.append((cluster, first))
                first = False
            else:
                run += cluster
        if run:
            out.append((run, first))
    return out


@lru_cache(maxsize=65536)
def word_key(word: str) -> str:
    """The comparison key of one word: NFKC, case folded, punctuation stripped from both ends.

    Inner punctuation stays (``3.5``, ``don't``, ``U.S``); a word of punctuation only keeps its NFKC form,
    so a dash or a full stop typed as a word of its own still votes.

    Examples:
        >>> word_key("«Straße»"), word_key("World!"), word_key("3.5"), word_key("—"), word_key("Ｔｏｋｙｏ")
        ('strasse', 'world', '3.5', '—', 'tokyo')
    """
    if word.isascii():
        stripped = word.strip(_ASCII_PUNCTUATION).lower()
        return stripped or word
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", word).casefold())
    clusters = graphemes(folded)
    start, end = 0, len(clusters)
    while start < end and _is_punctuation(clusters[start]):
        start += 1
    while end > start and _is_punctuation(clusters[end - 1]):
        end -= 1
    stripped = "".join(clusters[start:end])
    return stripped or unicodedata.normalize("NFKC", word)


def _is_punctuation(cluster: str) -> bool:
    return unicodedata.category(cluster[0]).startswith("P")


def normalize(text: str) -> str:
    """``text`` as compared: each word's :func:`word_key`, words of punctuation only dropped, one space
    between words (none between two graphemes of a script written without spaces).

    Examples:
        >>> normalize("  The  CAT, sat. ")
        'the cat sat'
        >>> normalize("Café — très bien !"), normalize("東京 タワー。")
        ('café très bien', '東京タワー')
    """
    out: list[str] = []
    for word, _ in tokens(text):
        key = word_key(word)
        if not key or all(_is_punctuation(c) for c in graphemes(key)):
            continue
        if out and not (unspaced(out[-1][-1]) and unspaced(key[0])):
            out.append(" ")
        out.append(key)
    return "".join(out)
