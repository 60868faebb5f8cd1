"""Simple features of a text, one value per character, that single cells of a character model
are known to track (Karpathy, Johnson and Fei-Fei 2015): inside a string, bracket depth,
position in the line, indentation, inside a comment (for code); and for any text: inside
quotes of any kind, depth of brackets of any kind, position in the word, whitespace, digits,
capitals, line breaks.

Each value describes the text *after* reading the character (the state a causal model could
know), so an opening quote is already inside the string and a closing one is outside again.
The scanner knows Python's lexical rules well enough for these five features (single and
triple quotes, string prefixes such as ``f"`` or ``rb'``, backslash escapes, ``#`` comments);
on prose the quote feature follows double quotes and quotes that do not sit inside a word.
"""

from __future__ import annotations

import numpy as np

# name -> what a value of the feature means (the order is the column order of ``features``)
FEATURES = {
    "quote": "inside a string literal (1) or not (0)",
    "brackets": "depth of open (, [ and { outside strings and comments",
    "line_position": "characters since the last newline",
    "indentation": "leading spaces and tabs of the current line (so far)",
    "comment": "inside a # comment (1) or not (0)",
    "any_quote": "inside quotes of any kind (\" ' ` \u201c\u201d \u2018\u2019 \u00ab\u00bb \u201e ...), anywhere (1) or not (0)",
    "any_brackets": "depth of open brackets of any kind (( [ { \u27e8 \u3010 \u3014), anywhere",
    "word_position": "letters and digits since the last other character",
    "whitespace": "the character is whitespace (1) or not (0)",
    "digit": "the character is a digit (1) or not (0)",
    "capital": "the character is a capital letter (1) or not (0)",
    "line_break": "the character is a line break (1) or not (0)",
}
_OPEN, _CLOSE = "([{", ")]}"
_ANY_OPEN, _ANY_CLOSE = "([{\u27e8\u3010\u3014", ")]}\u27e9\u3011\u3015"
_QUOTE_PAIRS = {
    '"': '"',
    "'": "'",
    "`": "`",
    "\u201c": "\u201d",
    "\u2018": "\u2019",
    "\u00ab": "\u00bb",
    "\u2039": "\u203a",
    "\u201e": "\u201c",
    "\u300c": "\u300d",
    "\u300e": "\u300f",
}
_PREFIX_LETTERS = set("rbfuRBFU")


class FeatureScanner:
    """Reads a text from the start, a stretch at a time, keeping its lexical state (so memory
    does not grow with the text). ``advance(stop)`` returns the features of the characters
    from where it stopped last up to ``stop``: an (n, len(FEATURES)) float32 array."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.quote = ""  # the delimiter of the string we are in: ', ", ''' or """ ("" = none)
        self.skip = 0  # characters of a triple delimiter still to consume
        self.escaped = False
        self.comment = False
        self.depth = 0
        self.column = 0
        self.indent = 0
        self.leading = True  # still in the line's leading whitespace
        self.word = ""  # the identifier characters just before this one
        self.any_quote = ""  # the closing mark of the quotes (of any kind) we are in ("" = none)
        self.any_depth = 0
        self.in_word = 0

    def advance(self, stop: int) -> np.ndarray:
        stop = min(stop, len(self.text))
        out = np.empty((max(stop - self.pos, 0), len(FEATURES)), np.float32)  # (n, F)
        for k in range(len(out)):
            self._read(self.text[self.pos])
            ch = self.text[self.pos]
            out[k] = (
                bool(self.quote),
                self.depth,
                self.column,
                self.indent,
                self.comment,
                bool(self.any_quote),
                self.any_depth,
                self.in_word,
                ch.isspace(),
                ch.isdigit(),
                ch.isupper(),
                ch == "\n",
            )
            self.pos += 1
        return out

    def _read(self, ch: str) -> None:
        self._layout(ch)
        self._any_text(ch)
        if self.skip:
            self.skip -= 1
        elif self.quote:
            self._in_string(ch)
        elif self.comment:
            self.comment = ch != "\n"
        elif ch in "'\"" and self._opens_string():
            triple = self.text.startswith(ch * 3, self.pos)
            self.quote = ch * 3 if triple else ch
            self.skip = 2 if triple else 0
        elif ch == "#":
            self.comment = True
        elif ch in _OPEN:
            self.depth += 1
        elif ch in _CLOSE:
            self.depth = max(self.depth - 1, 0)
        self.word = self.word + ch if (ch.isalnum() or ch == "_") else ""

    def _any_text(self, ch: str) -> None:
        """The features of any text: quotes and brackets of any kind, anywhere; a straight
        single quote opens only where it does not follow a letter (``don't`` is no quote)."""
        if self.any_quote and ch == self.any_quote:
            self.any_quote = ""
        elif not self.any_quote and ch in _QUOTE_PAIRS and not (ch == "'" and self.in_word):
            self.any_quote = _QUOTE_PAIRS[ch]
        elif ch in _ANY_OPEN:
            self.any_depth += 1
        elif ch in _ANY_CLOSE:
            self.any_depth = max(self.any_depth - 1, 0)
        self.in_word = self.in_word + 1 if ch.isalnum() else 0

    def _layout(self, ch: str) -> None:
        if ch == "\n":
            self.column, self.indent, self.leading = 0, 0, True
            return
        self.column += 1
        if self.leading and ch in " \t":
            self.indent += 1
        else:
            self.leading = False

    def _opens_string(self) -> bool:
        """A quote opens a string unless it sits inside a word that is not a string prefix
        (``f"``, ``rb'``: yes; ``don't``: no)."""
        return not self.word or (len(self.word) <= 2 and set(self.word) <= _PREFIX_LETTERS)

    def _in_string(self, ch: str) -> None:
        if self.escaped:
            self.escaped = False
        elif ch == "\\":
            self.escaped = True
        elif ch == "\n" and len(self.quote) == 1:
            self.quote = ""  # an unterminated one-line string
        elif len(self.quote) == 1 and ch == self.quote:
            self.quote = ""
        elif len(self.quote) == 3 and self.text.startswith(self.quote, self.pos):
            self.quote, self.skip = "", 2


def text_features(text: str) -> np.ndarray:
    """The features of every character of ``text``: (len(text), len(FEATURES)) float32."""
    return FeatureScanner(text).advance(len(text))
