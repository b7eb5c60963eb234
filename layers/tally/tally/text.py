"""Small helpers for the sentences tally writes (reasons in labels, the CLI's counts); no import of
the CLI, so the core and the handlers use them too."""

from __future__ import annotations

__all__ = ["counted"]


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and the noun in its number (``plural``: when not ``noun + "s"``).

    Examples:
        >>> counted(1, "shape"), counted(3, "shape"), counted(0, "gold object"), counted(1, "not a form", "not forms")
        ('1 shape', '3 shapes', '0 gold objects', '1 not a form')
    """
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
