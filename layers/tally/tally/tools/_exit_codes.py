"""The exit codes of every ``tally`` command, in a module of their own: ``tally --help`` needs them
before any command (or :mod:`tally.tools._common`) is imported."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    """The exit codes of every ``tally`` command (also in ``tally --help`` and docs/cli.md)."""

    OK = 0  # every object consolidated / the page rendered
    FAILED_OBJECTS = 1  # the run finished but some (or all) objects were not consolidated
    USAGE = 2  # bad command line (unknown option, --threads -1, --out naming a file, ...)
    INPUT = 3  # unreadable or invalid input, or a runtime error: nothing (new) was written
    INTERRUPTED = 130  # Ctrl-C: nothing half-written is left behind
