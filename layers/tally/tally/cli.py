"""``tally``: the same consolidation as the Lambda, on local files.

    tally consolidate EVENT_OR_PAYLOAD --out DIR [--s3-root DIR] [--labels a,b,c]

EVENT_OR_PAYLOAD is a consolidation event (a JSON object with ``payload.s3Uri``) or a payload file
itself (the JSON list Ground Truth writes). Plain paths and ``file://`` URIs are read from disk;
``s3://`` URIs are read from ``--s3-root/<bucket>/<key>`` when given, otherwise from S3 with your AWS
credentials (needs boto3). Masks go to ``DIR/masks/`` and one JSON line per object to
``DIR/results.jsonl``; a short summary is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .consolidate import BatchReport, consolidate_batch
from .errors import TallyError
from .gt.events import ConsolidationRequest
from .labels import parse_label_list
from .settings import Settings
from .storage import LocalStorage, Storage

__all__ = ["main"]


class _Storage:
    """Local files, plus real S3 for ``s3://`` URIs when no mirror directory is given."""

    def __init__(self, s3_root: str | None) -> None:
        self._local = LocalStorage(s3_root)
        self._mirror = s3_root is not None
        self._s3: Storage | None = None

    def _for(self, uri: str) -> Storage:
        if not uri.startswith("s3://") or self._mirror:
            return self._local
        if self._s3 is None:
            from . import aws  # boto3 only when S3 is really needed

            self._s3 = aws.s3_storage(aws.own_session())
        return self._s3

    def read(self, uri: str) -> bytes:
        return self._for(uri).read(uri)

    def write(self, uri: str, data: bytes, content_type: str) -> None:
        self._for(uri).write(uri, data, content_type)

    def modified(self, uri: str) -> datetime:
        return self._for(uri).modified(uri)


def _request(source: Path, args: argparse.Namespace) -> ConsolidationRequest:
    document: Any = json.loads(source.read_text(encoding="utf-8"))
    if isinstance(document, list):  # a payload file: make up the event around it
        document = {"labelAttributeName": args.label_attribute, "payload": {"s3Uri": str(source.resolve())}}
    if args.labels:
        document["labelCategories"] = parse_label_list(args.labels)
    return ConsolidationRequest.parse(document)


def _summary(report: BatchReport, out: Path) -> str:
    mean = report.mean_confidence
    lines = [
        f"objects:          {report.consolidated + report.failed}"
        f" ({report.consolidated} consolidated, {report.failed} failed)",
        f"answers rejected: {report.answers_rejected}",
        f"mean confidence:  {'n/a' if mean is None else f'{mean:.3f}'}",
        f"class keys from:  {report.label_source}",
        f"masks:            {out / 'masks'}",
        f"results:          {out / 'results.jsonl'}",
    ]
    if report.dropped:
        lines.insert(1, f"payload elements without a usable datasetObjectId: {report.dropped}")
    return "\n".join(lines)


def _consolidate(args: argparse.Namespace) -> int:
    out = Path(args.out)
    request = _request(LocalStorage().path_of(args.source), args)
    settings = Settings.from_env()
    if args.threads:
        settings = dataclasses.replace(settings, threads=args.threads)
    report = consolidate_batch(request, _Storage(args.s3_root), settings=settings, mask_prefix=str(out / "masks"))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "results.jsonl").open("w", encoding="utf-8") as fh:
        for entry in report.response:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
    print(_summary(report, out))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tally", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every object")
    sub = parser.add_subparsers(dest="command", required=True)
    cons = sub.add_parser("consolidate", help="consolidate a Ground Truth batch from local files")
    cons.add_argument("source", help="consolidation event JSON or payload JSON list")
    cons.add_argument("--out", required=True, help="directory for masks/ and results.jsonl")
    cons.add_argument("--s3-root", help="directory standing in for S3: s3://b/k is read from DIR/b/k")
    cons.add_argument("--labels", help="label names in class-key order (JSON list or a,b,c)")
    cons.add_argument("--label-attribute", default="label", help="labelAttributeName for a bare payload")
    cons.add_argument("--threads", type=int, help="objects consolidated at once")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _consolidate(args)
    except (TallyError, OSError, ValueError) as exc:
        print(f"tally: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
