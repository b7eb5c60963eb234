"""The ``tally`` command group and its entry point, :func:`main`.

Without the ``cli`` extra installed, running ``tally`` says how to install it (exit code 3) instead
of failing with an ImportError's traceback.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from importlib import metadata
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
from ._common import ExitCode, configure_logging

__all__ = ["cli", "main"]

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
    try:
        return metadata.version("tally")
    except metadata.PackageNotFoundError:
        return __version__


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
    epilog=_EXIT_CODES,
)
@click.version_option(_version(), "--version", prog_name="tally", message="%(prog)s %(version)s")
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
    configure_logging(verbose)


def _register() -> None:
    from .consolidate import consolidate
    from .export import export
    from .preview import preview
    from .reconsolidate import reconsolidate
    from .report import report

    cli.add_command(consolidate)
    cli.add_command(reconsolidate)
    cli.add_command(preview)
    cli.add_command(export)
    cli.add_command(report)


_register()


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
