"""Reading the values templates write in attributes: JSON, JavaScript literals and Liquid.

Templates give lists in several spellings: JSON (``'["a", "b"]'``), JavaScript with single quotes
(``"['Cat', 'Dog']"``), objects with bare keys (``"{ text: 'None of the above' }"``), and Liquid that
Ground Truth fills from the task's input (``"{{ task.input.labels | to_json | escape }}"``).
:func:`literal` reads the first three; :func:`has_liquid` tells the last apart.

Examples:
    >>> literal("['Cat', 'Dog']")
    ['Cat', 'Dog']
    >>> literal("[{'label': 'person', 'shortDisplayName': 'per'}]")
    [{'label': 'person', 'shortDisplayName': 'per'}]
    >>> literal("{ text: 'None of the above' }")
    {'text': 'None of the above'}
    >>> literal("[1, 2.5, true, null, 'it\\\\'s']")
    [1, 2.5, True, None, "it's"]
    >>> literal("['unterminated")
    Traceback (most recent call last):
    ...
    ValueError: unterminated string at 1
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["LIQUID_OUTPUT", "has_liquid", "literal", "number"]

LIQUID_OUTPUT = re.compile(r"\{\{.*?\}\}", re.DOTALL)
"""A Liquid output tag, ``{{ ... }}``: Ground Truth replaces it with the task's data."""

_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0"}
_WORDS: dict[str, Any] = {"true": True, "false": False, "null": None, "undefined": None}


def has_liquid(text: str) -> bool:
    """Whether ``text`` holds Liquid (an output ``{{ }}`` or a tag ``{% %}``)."""
    return "{{" in text or "{%" in text


def number(text: str) -> int | float | None:
    """``text`` as a number (an int when it has no fraction), ``None`` when it is not one.

    >>> number("5"), number(" 2.5 "), number("1e3"), number("five"), number("nan")
    (5, 2.5, 1000.0, None, None)
    """
    stripped = text.strip()
    if not _NUMBER.fullmatch(stripped):
        return None
    if re.fullmatch(r"-?\d+", stripped):
        return int(stripped)
    return float(stripped)


def literal(text: str) -> Any:
    """A JSON or JavaScript literal (arrays, objects with quoted or bare keys, strings in either
    quote, numbers, ``true``/``false``/``null``). Raises :class:`ValueError` on anything else."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    reader = _Reader(text)
    value = reader.value()
    reader.skip_space()
    if reader.at < len(text):
        raise ValueError(f"unexpected {text[reader.at]!r} at {reader.at}")
    return value


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def skip_space(self) -> None:
        while self.at < len(self.text) and self.text[self.at].isspace():
            self.at += 1

    def value(self) -> Any:
        self.skip_space()
        if self.at >= len(self.text):
            raise ValueError(f"a value is missing at {self.at}")
        char = self.text[self.at]
        if char == "[":
            return self._sequence("]", self.value)
        if char == "{":
            pairs = self._sequence("}", self._pair)
            return dict(pairs)
        if char in "'\"":
            return self._string()
        match = _NUMBER.match(self.text, self.at)
        if match:
            self.at = match.end()
            return number(match.group())
        match = _IDENTIFIER.match(self.text, self.at)
        if match and match.group() in _WORDS:
            self.at = match.end()
            return _WORDS[match.group()]
        raise ValueError(f"unexpected {char!r} at {self.at}")

    def _sequence(self, close: str, item: Any) -> list[Any]:
        self.at += 1
        items: list[Any] = []
        while True:
            self.skip_space()
            if self.at < len(self.text) and self.text[self.at] == close:
                self.at += 1
                return items
            items.append(item())
            self.skip_space()
            if self.at < len(self.text) and self.text[self.at] == ",":
                self.at += 1
            elif self.at >= len(self.text) or self.text[self.at] != close:
                raise ValueError(f"expected ',' or {close!r} at {self.at}")

    def _pair(self) -> tuple[str, Any]:
        self.skip_space()
        if self.at < len(self.text) and self.text[self.at] in "'\"":
            key = self._string()
        else:
            match = _IDENTIFIER.match(self.text, self.at)
            if not match:
                raise ValueError(f"expected a key at {self.at}")
            key = match.group()
            self.at = match.end()
        self.skip_space()
        if self.at >= len(self.text) or self.text[self.at] != ":":
            raise ValueError(f"expected ':' at {self.at}")
        self.at += 1
        return key, self.value()

    def _string(self) -> str:
        quote = self.text[self.at]
        start = self.at
        self.at += 1
        out: list[str] = []
        while self.at < len(self.text):
            char = self.text[self.at]
            if char == quote:
                self.at += 1
                return "".join(out)
            if char == "\\" and self.at + 1 < len(self.text):
                escaped = self.text[self.at + 1]
                if escaped == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", self.text[self.at + 2 : self.at + 6]):
                    out.append(chr(int(self.text[self.at + 2 : self.at + 6], 16)))
                    self.at += 6
                    continue
                out.append(_ESCAPES.get(escaped, escaped))
                self.at += 2
                continue
            out.append(char)
            self.at += 1
        raise ValueError(f"unterminated string at {start}")
