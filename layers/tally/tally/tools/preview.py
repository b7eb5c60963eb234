"""``tally preview``: a worker template rendered offline the way Ground Truth renders it.

The manifest line goes through tally's pre-annotation code (:func:`tally.pre_annotation.pre_annotate`)
and its ``taskInput`` becomes ``task.input`` in the template, rendered with python-liquid and Ground
Truth's filters. A variable the template uses and ``taskInput`` lacks is an error, as it would be a
blank in the worker's task.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
from pathlib import Path
from typing import Any

import click
from liquid import Environment, StrictDefaultUndefined
from liquid.exceptions import LiquidError, UndefinedError
from markupsafe import Markup

from ..pre_annotation import pre_annotate
from ..storage import LocalStorage, split_s3_uri
from ._common import ExitCode, InputError, build_settings, counted, input_file, load_json, write_atomically
from .consolidate import parse_labels

__all__ = [
    "CROWD_SCRIPT",
    "STAND_IN",
    "make_environment",
    "one_category_warning",
    "preview",
    "read_manifest_line",
    "render",
    "with_stand_in",
]

CROWD_SCRIPT = "https://assets.crowd.aws/crowd-html-elements.js"
STAND_IN = Path(__file__).with_name("crowd_stand_in.js")

FAKE_SIGNATURE = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=tally-preview-not-signed"


def _grant_read_access(s3_root: Path | None, embed: bool) -> Any:
    """Ground Truth's ``grant_read_access``: an S3 URI becomes a short-lived pre-signed HTTPS URL. Here:
    a fake one, or with an S3 mirror directory the local file (a ``file://`` URL, or a ``data:`` URI)."""
    storage = LocalStorage(s3_root) if s3_root is not None else None

    def grant_read_access(value: Any) -> str:
        uri = str(value)
        if not uri.startswith("s3://"):
            return uri  # http(s) URLs need no grant
        bucket, key = split_s3_uri(uri)
        if storage is not None:
            path = storage.path_of(uri)
            if not path.is_file():
                raise InputError(f"{uri} is not in the S3 mirror ({path} does not exist)")
            if embed:
                kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"
            return path.resolve().as_uri()
        return f"https://{bucket}.s3.amazonaws.com/{key}?{FAKE_SIGNATURE}"

    return grant_read_access


def _to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def make_environment(s3_root: Path | None = None, *, embed_images: bool = False) -> Environment:
    """A Liquid environment that renders like Ground Truth's: output HTML-escaped unless a filter says
    otherwise, undefined variables an error (``default`` still works), and Ground Truth's filters."""
    env = Environment(undefined=StrictDefaultUndefined, autoescape=True)
    env.filters["grant_read_access"] = _grant_read_access(s3_root, embed_images)
    env.filters["to_json"] = _to_json
    env.filters["skip_encoding"] = Markup
    env.filters["skip_autoescape"] = Markup
    return env


def read_manifest_line(path: Path, number: int) -> dict[str, Any]:
    """A manifest line from a JSON file (one object: a manifest line, or a pre-annotation event with
    ``dataObject``) or from a JSON Lines manifest (line ``number``, counting from 1)."""
    text = path.read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        lines = [line for line in text.splitlines() if line.strip()]
        if number > len(lines):
            raise InputError(f"{path} has {counted(len(lines), 'line')}; there is no line {number}") from None
        document = load_json(lines[number - 1], f"{path} line {number}")
    if not isinstance(document, dict):
        raise InputError(f"{path} is not a manifest line (a JSON object)")
    data_object = document.get("dataObject", document)
    if not isinstance(data_object, dict):
        raise InputError(f"{path}: dataObject is not a JSON object")
    return data_object


def _where(exc: LiquidError, template: Path) -> str:
    token = getattr(exc, "token", None)
    source = getattr(token, "source", None)
    start = getattr(token, "start_index", None)
    if isinstance(source, str) and isinstance(start, int):
        return f"{template} line {source.count(chr(10), 0, start) + 1}"
    return str(template)


_SINGLE_CHOICE = re.compile(r"<crowd-(?:image-)?classifier[\s>]")


def one_category_warning(
    html: str, task_input: dict[str, Any], line: dict[str, Any], *, configured: bool
) -> str | None:
    """What to say when the page is a single-choice classifier with one category: a worker has nothing
    to choose. It happens when the labels come from a prior classification label, which holds only
    the class it decided (``categories=["Probably yes"]``)."""
    labels = task_input.get("labels") or []
    if len(labels) != 1 or not _SINGLE_CHOICE.search(html):
        return None
    prior = task_input.get("initialValue")
    metadata = line.get("metadata")
    listed = line.get("labels") or (metadata.get("labels") if isinstance(metadata, dict) else None)
    from_prior = not configured and not listed and isinstance(prior, dict) and prior.get("label") == labels[0]
    where = " (taken from the line's prior label, which holds only the class it decided)" if from_prior else ""
    return (
        f"the classifier offers one category, {labels[0]}{where}: a worker has nothing to choose; "
        "give the job's labels with --labels or TALLY_LABELS"
    )


def with_stand_in(html: str) -> str:
    """The page with Ground Truth's crowd-html-elements.js replaced by the local stand-in, inlined: the
    elements then show what they received (labels, text, images) offline."""
    tag = f'<script src="{CROWD_SCRIPT}"></script>'
    inline = f"<script>/* tally preview --stand-in */\n{STAND_IN.read_text(encoding='utf-8')}</script>"
    if tag not in html:
        raise InputError(f"--stand-in: the template does not load {CROWD_SCRIPT} with a plain <script src> tag")
    return html.replace(tag, inline)


def render(template: Path, task_input: dict[str, Any], env: Environment) -> str:
    """Render ``template`` with ``task.input = task_input``; unknown variables raise :class:`InputError`."""
    try:
        compiled = env.from_string(template.read_text(encoding="utf-8"), name=template.name)
        return compiled.render(task={"input": task_input})
    except UndefinedError as exc:
        message = str(exc).splitlines()[0]
        has = ", ".join(sorted(task_input)) or "nothing"
        raise InputError(f"{_where(exc, template)}: {message} (taskInput has: {has})") from exc
    except LiquidError as exc:
        raise InputError(f"{_where(exc, template)}: {str(exc).splitlines()[0]}") from exc


@click.command(
    epilog="Exit codes: 0 page written, 2 usage error, 3 a missing or unreadable file, a bad template or manifest "
    "line (nothing written)."
)
@click.argument("template", type=click.Path(path_type=Path))
@click.argument("manifest_line", metavar="MANIFEST_LINE", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The HTML file to write (replaced).",
)
@click.option(
    "--line",
    "number",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Which line of a JSON Lines manifest.",
)
@click.option("--labels", help="The job's labels (JSON list or a,b,c), when the line has none [default: TALLY_LABELS].")
@click.option(
    "--s3-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory standing in for S3: grant_read_access gives the local file (s3://B/K is DIR/B/K), so the "
    "preview shows the real picture. Without it, a fake pre-signed URL.",
)
@click.option(
    "--stand-in",
    is_flag=True,
    help="Replace crowd-html-elements.js with a local stand-in that shows what each crowd element received "
    "(labels, text, images), so the page says something offline. Not the real worker UI.",
)
@click.option(
    "--embed-images", is_flag=True, help="With --s3-root: inline the images as data: URIs (a self-contained page)."
)
def preview(
    template: Path,
    manifest_line: Path,
    out: Path,
    number: int,
    labels: str | None,
    s3_root: Path | None,
    stand_in: bool,
    embed_images: bool,
) -> int:
    """Render a worker template for one manifest line, offline.

    Runs tally's pre-annotation code on the line (labels from --labels, TALLY_LABELS or the line's own
    "labels"), then renders TEMPLATE with task.input set to its taskInput, through Liquid with Ground
    Truth's filters (grant_read_access, to_json, escape, skip_encoding). Any variable the template uses
    that taskInput lacks is an error naming it. MANIFEST_LINE is a JSON file holding one manifest line
    (or a pre-annotation event), or a JSON Lines manifest (see --line).

    \b
    Examples:
      tally preview templates/semantic-segmentation.liquid.html line.json --out preview.html
      tally preview templates/image-classification.liquid.html input.manifest --line 3 \\
          --labels cat,dog --s3-root ./s3-mirror --out preview.html
    """
    label_list = parse_labels(labels)
    settings = build_settings(labels=tuple(label_list) if label_list else None)
    input_file(template)
    line = read_manifest_line(input_file(manifest_line), number)
    response = pre_annotate({"dataObject": line}, settings=settings)
    if not response.get("isHumanAnnotationRequired", False):
        raise InputError(
            f"{manifest_line}: the pre-annotation code would not send this line to workers "
            "(isHumanAnnotationRequired: false; it needs source-ref or source)"
        )
    task_input = response["taskInput"]
    if not task_input.get("labels"):
        click.echo("warning: taskInput.labels is empty (no --labels, TALLY_LABELS or labels on the line)", err=True)
    html = render(template, task_input, make_environment(s3_root, embed_images=embed_images))
    warning = one_category_warning(html, task_input, line, configured=settings.labels is not None)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    if stand_in:
        html = with_stand_in(html)
    write_atomically(out, lambda fh: fh.write(html))
    click.echo(f"wrote {out}")
    return ExitCode.OK
