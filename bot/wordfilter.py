"""Blocked words: whole-word matching after normalisation.

A prompt and each blocked entry go through the same normalisation, so a
disguise that normalises to the entry matches it, and nothing else can:

1. Unicode compatibility forms are unfolded (NFKD), so fullwidth, circled
   and mathematical letters become plain ones; accents and other combining
   decoration (strike-throughs, variation selectors, any mark stacked on a
   Latin, Greek or Cyrillic letter) and invisible format characters
   (zero-width spaces and joiners, soft hyphens, Hangul fillers) are dropped.
   Marks that are part of another script's spelling (Devanagari vowel signs,
   the Japanese voicing mark) stay.
2. Letters that look Latin but are not (Cyrillic ``а е о р с у х і ѕ ј``,
   Greek ``ο ν ρ``, small capitals, regional indicators) become the Latin
   letter they imitate, and everything is case-folded. The result is
   recomposed (NFC), so text that needed none of this comes back unchanged.
3. Inside a token that has at least one letter, leetspeak is read as letters
   (``0→o 1→i 3→e 4→a 5→s 7→t @→a $→s``): ``n00d`` is ``nood`` but ``2024``
   and ``$5`` stay as they are.

Matching is on whole tokens (runs of letters and digits), never substrings, so
``ass`` does not match ``class``. Separators are handled by also trying:

- letters spelled out one at a time (``n.s.f.w``, ``n s f w``, ``N-S-F-W``):
  in a run of one-character tokens any stretch of consecutive letters counts
  as a word, because such a run carries no word boundaries of its own;
- tokens joined by punctuation with no whitespace (``nu.de``, ``nu_de``).

Han, Hiragana and Katakana characters are each a token of their own, since
those scripts put no spaces between words; a blocked entry in them therefore
matches wherever its characters appear in a row.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

__all__ = ["WordFilter", "normalise", "normalise_word"]

# Letters (category Lo) that render as blank space, used to split words invisibly.
_BLANK_LETTERS = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0})

# Both cases are listed because the table is applied before case folding, where
# an upper-case letter can imitate a different Latin letter than its lower case
# (Greek capital eta looks like H, small eta like n).
_LOOKALIKES: dict[str, str] = {
    # Cyrillic
    "А": "a", "а": "a", "В": "b", "в": "b", "Е": "e", "е": "e", "К": "k", "к": "k",
    "М": "m", "м": "m", "Н": "h", "н": "h", "О": "o", "о": "o", "Р": "p", "р": "p",
    "С": "c", "с": "c", "Т": "t", "т": "t", "У": "y", "у": "y", "Х": "x", "х": "x",
    "Ѕ": "s", "ѕ": "s", "І": "i", "і": "i", "Ј": "j", "ј": "j", "Ԁ": "d", "ԁ": "d",
    "Һ": "h", "һ": "h", "Ԛ": "q", "ԛ": "q", "Ԝ": "w", "ԝ": "w", "Ӏ": "l", "ӏ": "l",
    "Ү": "y", "ү": "y", "Ѵ": "v", "ѵ": "v",
    # Armenian
    "օ": "o", "ս": "u", "ո": "n", "հ": "h", "ց": "g", "զ": "q",
    # Greek
    "Α": "a", "α": "a", "Β": "b", "β": "b", "Ε": "e", "ε": "e", "Ζ": "z", "Η": "h",
    "η": "n", "Ι": "i", "ι": "i", "Κ": "k", "κ": "k", "Μ": "m", "μ": "u", "Ν": "n",
    "ν": "v", "Ο": "o", "ο": "o", "Ρ": "p", "ρ": "p", "Τ": "t", "τ": "t", "Υ": "y",
    "υ": "u", "Χ": "x", "χ": "x", "ω": "w", "Ϲ": "c", "ϲ": "c", "Ϳ": "j", "ϳ": "j",
    # Latin letters with strokes, which have no decomposition to strip
    "ı": "i", "ȷ": "j", "Ø": "o", "ø": "o", "Đ": "d", "đ": "d", "ð": "d", "Ħ": "h",
    "ħ": "h", "Ł": "l", "ł": "l", "Ŧ": "t", "ŧ": "t", "ƀ": "b", "ɨ": "i",
    "Æ": "ae", "æ": "ae", "Œ": "oe", "œ": "oe",
    # Small capitals, the staple of "fancy text" generators
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ꜰ": "f", "ɢ": "g", "ʜ": "h",
    "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p",
    "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
}  # fmt: skip
# Regional indicators and negative circled/squared letters are emoji-like
# letters A-Z with no compatibility decomposition.
for _first in (0x1F1E6, 0x1F150, 0x1F170):
    for _offset in range(26):
        _LOOKALIKES[chr(_first + _offset)] = chr(ord("a") + _offset)
_LOOKALIKE_TABLE = str.maketrans(_LOOKALIKES)

_LEET_TABLE = str.maketrans("013457@$", "oieastas")

# Scripts written without spaces between words: each character is a token.
_UNSPACED_RANGES = (
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x31F0, 0x31FF),  # Katakana phonetic extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK extensions B onwards
)

# Combining marks that are accents on any script (and variation selectors):
# always dropped. Other marks belong to their script (Devanagari vowel signs,
# the Japanese voicing mark) and are dropped only on an alphabet that uses
# the generic ones, where they can only be decoration ("zalgo" text).
_GENERIC_MARK_RANGES = (
    (0x0300, 0x036F),
    (0x0483, 0x0489),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE00, 0xFE0F),
    (0xFE20, 0xFE2F),
    (0xE0100, 0xE01EF),
)
# Latin, Greek and Cyrillic, as far as they matter after NFKD.
_ALPHABET_RANGES = (
    (0x0000, 0x052F),
    (0x1D00, 0x1DBF),
    (0x1E00, 0x1FFF),
    (0x2C60, 0x2C7F),
    (0xA640, 0xA69F),
    (0xA720, 0xA7FF),
    (0xAB30, 0xAB6F),
)

_SEPARATOR, _WORD, _UNSPACED, _SYMBOL, _MARK = range(5)
_KEEP, _DROP, _DROP_ON_ALPHABET = range(3)


def _within(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


@functools.lru_cache(maxsize=8192)
def _kind(char: str) -> int:
    """How the tokeniser treats one (already folded) character."""
    if char in "@$":
        return _SYMBOL
    if unicodedata.category(char) in ("Mn", "Mc"):
        return _MARK
    if not char.isalnum():
        return _SEPARATOR
    if _within(ord(char), _UNSPACED_RANGES):
        return _UNSPACED
    return _WORD


@functools.lru_cache(maxsize=8192)
def _fate(char: str) -> int:
    """Whether a decomposed character is kept in the folded text."""
    category = unicodedata.category(char)
    code = ord(char)
    if category in ("Me", "Cf") or code in _BLANK_LETTERS:
        return _DROP
    if category == "Mn":
        return _DROP if _within(code, _GENERIC_MARK_RANGES) else _DROP_ON_ALPHABET
    return _KEEP


@functools.lru_cache(maxsize=8192)
def _alphabetic(char: str) -> bool:
    return _within(ord(char), _ALPHABET_RANGES)


def _strip_marks(text: str) -> str:
    kept: list[str] = []
    on_alphabet = True  # a mark with no base before it is dropped
    for char in text:
        fate = _fate(char)
        if fate == _KEEP:
            kept.append(char)
            if _kind(char) != _MARK:
                on_alphabet = _alphabetic(char)
        elif fate == _DROP_ON_ALPHABET and not on_alphabet:
            kept.append(char)
    return "".join(kept)


def _fold(text: str) -> str:
    """Steps 1 and 2 of the module docstring: everything but leetspeak."""
    # NFKD does the compatibility unfolding NFKC would, and also splits accents
    # off their letters so they can be dropped; NFC at the end recomposes.
    text = _strip_marks(unicodedata.normalize("NFKD", text))
    # Look-alikes before case folding (capital eta is an H), and again after,
    # for lower-case look-alikes that folding produced.
    text = text.translate(_LOOKALIKE_TABLE).casefold().translate(_LOOKALIKE_TABLE)
    return unicodedata.normalize("NFC", text)


def _leet(token: str) -> str:
    """Read leetspeak in a token that has a letter; leave numbers and prices alone."""
    if any(char.isalpha() for char in token):
        return token.translate(_LEET_TABLE)
    return token


def _plain(token: str) -> str:
    return token


class _Token(NamedTuple):
    start: int  # offset in the folded text, to find the earliest match
    text: str
    glued: bool  # joined to the previous token by punctuation alone, no whitespace


def _tokenise(text: str, *, symbols: bool, convert: Callable[[str], str]) -> list[_Token]:
    """Split folded text into tokens; with ``symbols``, ``@`` and ``$`` are word characters."""
    word_kinds = (_WORD, _MARK, _SYMBOL) if symbols else (_WORD, _MARK)
    tokens: list[_Token] = []
    previous_end = 0
    previous_unspaced = False
    position = 0
    length = len(text)
    while position < length:
        kind = _kind(text[position])
        if kind == _UNSPACED:
            end = position + 1
            while end < length and _kind(text[end]) == _MARK:
                end += 1
        elif kind in word_kinds:
            end = position + 1
            while end < length and _kind(text[end]) in word_kinds:
                end += 1
        else:
            position += 1
            continue
        # Characters of unspaced scripts are never glued: a whole sentence
        # would otherwise read as one word.
        glued = (
            bool(tokens)
            and kind != _UNSPACED
            and not previous_unspaced
            and not any(char.isspace() for char in text[previous_end:position])
        )
        tokens.append(_Token(position, convert(text[position:end]), glued))
        previous_end = position = end
        previous_unspaced = kind == _UNSPACED
    return tokens


def _single_runs(tokens: Sequence[_Token]) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of two or more consecutive one-character tokens."""
    start = 0
    for index in range(len(tokens) + 1):
        if index < len(tokens) and len(tokens[index].text) == 1:
            continue
        if index - start >= 2:
            yield start, index
        start = index + 1


def _glued_groups(tokens: Sequence[_Token]) -> Iterator[tuple[int, int]]:
    """(start, stop) of each run of two or more tokens joined by punctuation alone."""
    start = 0
    for index in range(1, len(tokens) + 1):
        if index < len(tokens) and tokens[index].glued:
            continue
        if index - start >= 2:
            yield start, index
        start = index


def _join(tokens: Sequence[_Token]) -> str:
    return "".join(token.text for token in tokens)


def _collapse(tokens: Sequence[_Token], convert: Callable[[str], str]) -> list[_Token]:
    """The tokens with each run of one-character tokens joined into one token."""
    collapsed: list[_Token] = []
    done = 0
    for start, stop in _single_runs(tokens):
        collapsed.extend(tokens[done:start])
        first = tokens[start]
        collapsed.append(_Token(first.start, convert(_join(tokens[start:stop])), first.glued))
        done = stop
    collapsed.extend(tokens[done:])
    return collapsed


def _entry_tokens(word: str) -> tuple[str, ...]:
    """A blocked entry's normalised words; single letters spelled out are one word."""
    tokens = _tokenise(_fold(word), symbols=True, convert=_leet)
    return tuple(token.text for token in _collapse(tokens, _leet))


def normalise(text: str) -> str:
    """Text as the filter sees it: folded, look-alikes made Latin, leetspeak read.

    Punctuation and spacing are kept (only accents and invisible characters
    go), so the result still reads like the original.
    """
    folded = _fold(text)
    chars = list(folded)
    for token in _tokenise(folded, symbols=True, convert=_leet):
        # The leet table maps one character to one, so offsets still line up.
        chars[token.start : token.start + len(token.text)] = token.text
    return "".join(chars)


def normalise_word(word: str) -> str:
    """The form a blocked entry is stored in: its normalised words, one space apart.

    The result holds only letters, digits (with their script's marks), ``@``,
    ``$`` and single spaces, and normalising it again changes nothing. Raises
    :class:`ValueError` if nothing matchable is left (the entry was only
    punctuation, emoji or spaces).
    """
    tokens = _entry_tokens(word)
    if not tokens:
        raise ValueError(f"nothing to match in {word!r} after normalisation")
    return " ".join(tokens)


class WordFilter:
    """A server's blocked entries, ready to check prompts against.

    Build it once per change to the list; :meth:`find` does no set-up work.
    Entries are normalised here too, so raw or stored (already normalised)
    words both work; an entry with nothing to match is ignored.
    """

    def __init__(self, words: Iterable[str]) -> None:
        self._entries: list[str] = []
        # One-word entries by their normalised text, and phrases by their first
        # word; the value is the entry's index, which breaks ties in find().
        self._words: dict[str, int] = {}
        self._phrases: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        seen: set[tuple[str, ...]] = set()
        for word in words:
            tokens = _entry_tokens(word)
            if not tokens or tokens in seen:
                continue
            seen.add(tokens)
            index = len(self._entries)
            self._entries.append(word)
            if len(tokens) == 1:
                self._words[tokens[0]] = index
            else:
                self._phrases.setdefault(tokens[0], []).append((tokens, index))
        # Every beginning of a one-word entry, to stop extending a stretch of
        # spelled-out letters that can no longer become one.
        self._prefixes = {word[:size] for word in self._words for size in range(1, len(word))}

    def find(self, prompt: str) -> str | None:
        """The blocked entry (as given) matching earliest in ``prompt``, or None.

        Of entries matching at the same place, the one given first wins.
        """
        if not self._entries:
            return None
        folded = _fold(prompt)
        best: tuple[int, int] | None = None
        # Read once with leetspeak and once without, where @ and $ separate
        # words: "nsfw$" is "nsfw" followed by a dollar, not "nsfws".
        # Without @ or $ the second reading has the same tokens, minus leetspeak.
        readings = [(True, _leet)]
        if "@" in folded or "$" in folded:
            readings.append((False, _plain))
        for symbols, convert in readings:
            tokens = _tokenise(folded, symbols=symbols, convert=convert)
            for found in self._matches(tokens, convert):
                if best is None or found < best:
                    best = found
        return None if best is None else self._entries[best[1]]

    def _matches(
        self, tokens: Sequence[_Token], convert: Callable[[str], str]
    ) -> Iterator[tuple[int, int]]:
        """(offset, entry index) of every match among the tokens."""
        words = self._words
        for token in tokens:
            if (index := words.get(token.text)) is not None:
                yield token.start, index
        for start, stop in _single_runs(tokens):
            yield from self._spelled_matches(tokens[start:stop], convert)
        for start, stop in _glued_groups(tokens):
            if (index := words.get(convert(_join(tokens[start:stop])))) is not None:
                yield tokens[start].start, index
        if self._phrases:
            for view in (tokens, _collapse(tokens, convert)):
                yield from self._phrase_matches(view)

    def _spelled_matches(
        self, run: Sequence[_Token], convert: Callable[[str], str]
    ) -> Iterator[tuple[int, int]]:
        """Matches in a run of one-character tokens: letters spelled out.

        Letters joined by punctuation alone ("n.s.f.w", "U.S.S.") are one word.
        Whitespace between letters ("a n s f w") may or may not end a word, so
        every stretch of whole pieces is tried.
        """
        # Piece boundaries in the run's letters, and where each piece starts in the prompt.
        bounds = [0]
        offsets: list[int] = []
        for position, token in enumerate(run):
            if not (token.glued and offsets):
                if position:
                    bounds.append(position)
                offsets.append(token.start)
        bounds.append(len(run))
        raw = _join(run)
        # Stretches are slices of the run read both ways; a stretch with no
        # letter is looked up unconverted, as _leet would leave it.
        read = raw if convert is _plain else raw.translate(_LEET_TABLE)
        letters_before = [0]
        for char in raw:
            letters_before.append(letters_before[-1] + char.isalpha())
        words = self._words
        prefixes = self._prefixes
        for first, offset in enumerate(offsets):
            begin = bounds[first]
            for after in range(first + 1, len(bounds)):
                end = bounds[after]
                key = (read if letters_before[end] > letters_before[begin] else raw)[begin:end]
                if (index := words.get(key)) is not None:
                    yield offset, index
                # Stop once no entry starts like this stretch, in either reading.
                if key not in prefixes and read[begin:end] not in prefixes:
                    break

    def _phrase_matches(self, tokens: Sequence[_Token]) -> Iterator[tuple[int, int]]:
        texts = [token.text for token in tokens]
        for position, token in enumerate(tokens):
            for phrase, index in self._phrases.get(token.text, ()):
                if tuple(texts[position : position + len(phrase)]) == phrase:
                    yield token.start, index
