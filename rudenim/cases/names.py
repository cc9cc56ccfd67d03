"""Names across scripts and spellings: folding for search and the duplicate check.

The same person is written Mohammad, Muhammad, Mohamed or Mohd; Abdul or
Abdoul; Nur or Noor; Rahman or Rehman; "Abdul Rahman", "Abdul-Rahman" or
"Abdulrahman". ``name_key`` turns a name into a transliteration-neutral key:
each word is reduced to its consonant skeleton (first letter kept, later
vowels dropped, doubled letters collapsed), so all of the above fall together.
Search matches every word of the query against the key; the duplicate check
then ranks candidates with rapidfuzz.
"""

import re
import unicodedata

from rapidfuzz import fuzz

#: Whole-word abbreviations and spellings the skeleton alone does not join.
WORD_EQUIVALENTS = {
    "mohd": "muhammad",
    "muhd": "muhammad",
    "md": "muhammad",
    "mhd": "muhammad",
    "mohd.": "muhammad",
}
#: Letter groups written differently for one sound.
LETTER_EQUIVALENTS = (
    ("ph", "f"),
    ("ck", "k"),
    ("q", "k"),
    ("x", "ks"),
    ("ou", "u"),
    ("ee", "i"),
    ("oo", "u"),
)
VOWELS = frozenset("aeiouyw")
_NON_LETTERS = re.compile(r"[^a-z]+")
#: Latin letters that Unicode does not decompose into a base letter and a mark.
_UNDECOMPOSED = str.maketrans(
    {"ß": "ss", "ø": "o", "đ": "d", "ı": "i", "æ": "ae", "œ": "oe", "ł": "l", "ð": "d", "þ": "th"}
)


def fold(text: str) -> str:
    """Lower-case ASCII letters and spaces: diacritics dropped, punctuation gone."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    ascii_text = ascii_text.lower().translate(_UNDECOMPOSED)
    return " ".join(_NON_LETTERS.sub(" ", ascii_text).split())


def skeleton(word: str) -> str:
    """A word's consonant skeleton: Muhammad, Mohamed → mhmd; Noor, Nur → nr."""
    word = WORD_EQUIVALENTS.get(word, word)
    for written, sound in LETTER_EQUIVALENTS:
        word = word.replace(written, sound)
    if not word:
        return ""
    kept = [word[0]]
    for letter in word[1:]:
        if letter in VOWELS:
            continue
        if letter != kept[-1]:
            kept.append(letter)
    return "".join(kept)


def name_words(name: str) -> list[str]:
    """The skeletons of a name's words, in order."""
    return [key for key in (skeleton(word) for word in fold(name).split()) if key]


def name_key(name: str) -> str:
    """The stored search key: skeletons joined by spaces, plus the joined form.

    "Abdul Rahman" → "abdl rhmn|abdlrhmn"; storing the joined form lets
    "Abdulrahman" find "Abdul Rahman" and the other way round.
    """
    words = name_words(name)
    return " ".join(words) + "|" + "".join(words)


#: Search tokens are cut at this length (the column's width).
TOKEN_LENGTH = 200
#: A query word this long may occur anywhere in a name ("rhmn" in
#: "Abdulrahman"); a shorter one must start one of its words.
LONG_WORD = 4


def name_tokens(key: str) -> set[tuple[bool, str]]:
    """What the search index holds for a name key: ``(True, word)`` for each of
    its words and ``(False, ending)`` for every ending of the joined form
    ``LONG_WORD`` letters or longer.

    A short query word must start a word of the name: it starts a word token.
    A long one may occur anywhere in the joined form ("rhmn" in "abdlrhmn"): it
    starts an ending. A name matches when each query word starts a token of its
    kind, so the index alone decides (``services.search_condition``).
    """
    words, _bar, joined = key.partition("|")
    tokens = {(True, word[:TOKEN_LENGTH]) for word in words.split()}
    tokens.update(
        (False, joined[start : start + TOKEN_LENGTH])
        for start in range(len(joined) - LONG_WORD + 1)
    )
    return tokens


def is_long(word: str) -> bool:
    """Whether a query word is looked for anywhere in a name (else at a word's start)."""
    return len(word) >= LONG_WORD


def query_words(query: str) -> list[str]:
    """Skeletons to look for in stored keys: each must occur for a match.

    A word with a digit in it is a number (a case or registration number),
    never part of a name, so "KPG-2024-0001" looks for no name at all.
    """
    return name_words(" ".join(w for w in query.split() if not any(c.isdigit() for c in w)))


def similarity(a: str, b: str) -> float:
    """0–100: how alike two names are once spelling variants are set aside."""
    left, right = " ".join(name_words(a)), " ".join(name_words(b))
    if not left or not right:
        return 0.0
    joined = fuzz.ratio(left.replace(" ", ""), right.replace(" ", ""))
    return max(fuzz.token_sort_ratio(left, right), joined)


def normalise_identifier(value: str) -> str:
    """How identifiers compare: upper-case, without spaces, dashes, dots or slashes."""
    return re.sub(r"[\s\-./]+", "", (value or "").strip()).upper()
