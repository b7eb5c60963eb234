"""The ``tally`` command group and its entry point, :func:`main`.

Each command's module is imported only when that command runs (or shows its help): ``tally --help``
lists them from :data:`COMMANDS`, and ``tally export`` never loads python-liquid (``preview``'s).

Without the ``cli`` extra installed, running ``tally`` says how to install it (exit code 3) instead
of failing with an ImportError's traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

try:
    import click
    import rich  # noqa: F401

    if importlib.util.find_spec("liquid") is None:  # only `preview` imports it: checked, not loaded
        raise ModuleNotFoundError("No module named 'liquid'", name="liquid")
except ModuleNotFoundError as _missing:
    sys.stderr.write(
        f"tally: the command line needs the 'cli' extra ({_missing.name} is missing): pip install 'tally[cli]'\n"
    )
    raise SystemExit(3) from None

from .. import __version__
from ..errors import TallyError
from ._exit_codes import ExitCode

__all__ = ["COMMANDS", "cli", "main"]

COMMANDS = {
    "consolidate": "Consolidate one Ground Truth batch the way tally's Lambda does.",
    "export": "Export to Ground Truth's built-in shapes or to COCO JSON.",
    "preview": "Render a worker template for one manifest line, offline.",
    "reconsolidate": "Consolidate a finished job again from its output manifest, judging every worker on the whole job.",
    "report": "Write an offline HTML page to review a consolidated batch.",
}
"""Each command (the function ``tally.tools.<name>.<name>``) and its one-line help, as ``tally --help``
lists it without importing the command (a test holds it equal to the command's own)."""


class _LazyGroup(click.Group):
    """A group whose commands are imported on first use (:data:`COMMANDS`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        command: click.Command = getattr(importlib.import_module(f"{__package__}.{cmd_name}"), cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        # each line shortened as click shortens a command's own help (a stand-in command: nothing imported)
        rows = [
            (name, click.Command(name, help=COMMANDS[name]).get_short_help_str(limit))
            for name in self.list_commands(ctx)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


_EXIT_CODES = """\b
Exit codes:
  0    success: every object consolidated (consolidate, reconsolidate), the file written (export, report,
       preview)
  1    the run finished, but some or all objects were not consolidated or are failed lines (each named
       on stderr)
  2    usage error: unknown option, bad option value or TALLY_* variable, --out naming a file, ...
  3    input or runtime error: missing or unreadable file, bad JSON, template variable taskInput lacks;
       nothing written
  130  interrupted (Ctrl-C): nothing half-written is left behind"""


def _version() -> str:
    from importlib import metadata  # only for --version: tally --help does without it

    try:
        return metadata.version("tally")
    except metadata.PackageNotFoundError:
        return __version__


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"tally {_version()}")
        ctx.exit()


@click.group(
    cls=_LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=_EXIT_CODES,
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and exit.",
)
@click.option("-v", "--verbose", count=True, help="Show the consolidation's log: -v warnings, -vv every object.")
def cli(verbose: int) -> None:
    """tally: Amazon SageMaker Ground Truth consolidation on your own machine.

    The same code as tally's Lambda functions, run on local files or on s3:// URIs: consolidate a
    batch, consolidate again a finished job's output manifest, export it in Ground Truth's built-in
    shapes or as COCO, review it in one HTML page, and preview worker templates offline.

    \b
    Examples:
      tally consolidate events/consolidation.json --s3-root events/s3 --out out/example-job
      tally reconsolidate output.manifest --label-attribute gt-label --out out/again
      tally preview templates/semantic-segmentation.liquid.html line.json --out preview.html

    Run 'tally COMMAND --help' for a command's options.
    """
    from ._common import configure_logging  # with the command: tally --help loads neither

    configure_logging(verbose)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tally`` with ``argv`` (default: the process's arguments) and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        with cli.make_context("tally", args) as ctx:
            result: Any = cli.invoke(ctx)
        return int(result or 0)
    except click.exceptions.Exit as exc:  # --help, --version
        return int(exc.exit_code)
    except click.UsageError as exc:
        exc.show()
        return ExitCode.USAGE
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("tally: interrupted; nothing half-written was left behind", err=True)
        return ExitCode.INTERRUPTED
    except (TallyError, OSError) as exc:
        click.echo(f"Error: {exc}", err=True)
        return ExitCode.INPUT


if __name__ == "__main__":
    raise SystemExit(main())
