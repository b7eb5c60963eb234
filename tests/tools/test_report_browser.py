"""`tally report`'s page in a real headless Chromium (Debian's /usr/bin/chromium driven by python
playwright, as in test_templates_browser.py): a simulated 3-worker segmentation job reconsolidated,
its images in an S3 mirror; the page must load with no console error and no request, show every
object with its images really decoded, sort least confident first, and its label and worker filters
must hide and show objects (clicked, counted). A screenshot is taken; with TALLY_UPDATE_SCREENSHOT set it
becomes docs/report.png (the README's)."""

from __future__ import annotations

import base64
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from PIL import Image, ImageFilter

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Route

from tally.tools._common import CliStorage
from tally.tools.cli import main
from tally.tools.report import UNKNOWN_HEX, ReviewObject, agreement, load_review, review_reasons
from tests.helpers import read_mask
from tests.project import ROOT
from tests.sim.manifests import WORKERS, recipe_line, segmentation_lines, write_manifest
from tests.tools.template_cases import ARGS, CHROMIUM

LABELS = "road,car,person,sign"
# muted "photo" colours per class key, so the overlays stand out against the image
SCENE = np.array([[96, 110, 92], [120, 120, 124], [170, 60, 50], [210, 180, 150], [230, 210, 60]], dtype=np.float64)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium is missing: run `make -f mk/browser.mk browser`"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def _photo(classes: np.ndarray, seed: int) -> bytes:
    """A stand-in photograph of a scene: its classes in muted colours, noise, a blur."""
    rng = np.random.default_rng(seed)
    height, width = classes.shape
    shade = np.linspace(0.85, 1.1, height)[:, None, None]
    rgb = SCENE[classes] * shade + rng.normal(0, 9, (height, width, 3))
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.2))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def review_job(root: Path, n: int = 5) -> tuple[Path, Path]:
    """A reconsolidated simulated segmentation job (``n`` lines plus one nobody answered) and its S3
    mirror holding every line's image: (output folder, mirror)."""
    lines = [*segmentation_lines(n, seed=7, attr="street", height=150, width=200)]
    lines.append(recipe_line("s3://sim-bucket/images/unanswered.jpg", "street", []))
    source = write_manifest(root / "source.manifest", iter(lines))
    out = root / "out"
    argv = [
        "reconsolidate",
        str(source),
        "--label-attribute",
        "street",
        "--labels",
        LABELS,
        "--out",
        str(out),
        "--confidence-maps",
    ]
    assert main([*argv, "--jobs", "1", "--no-progress"]) == 1  # the unanswered line fails
    mirror = root / "s3"
    for number, line in enumerate(json.loads(raw) for raw in (out / "output.manifest").read_text().splitlines()):
        path = mirror / line["source-ref"].removeprefix("s3://")
        path.parent.mkdir(parents=True, exist_ok=True)
        mask_ref = line["street"].get("mask-ref")
        classes = read_mask(Path(mask_ref).read_bytes()) if mask_ref else np.zeros((150, 200), dtype=np.uint8)
        path.write_bytes(_photo(classes, number))
    return out, mirror


# each object's photo: the data URI of its CSS class's background, decoded by the browser
PHOTOS = """async () => {
  const sizes = {};
  for (const div of document.querySelectorAll('div.photo')) {
    const cls = [...div.classList].find(c => c.startsWith('photo-'));
    if (cls in sizes) continue;
    const url = getComputedStyle(div).backgroundImage.slice(5, -2);
    if (!url.startsWith('data:image/jpeg;base64,')) { sizes[cls] = url.slice(0, 20); continue; }
    const image = new Image();
    image.src = url;
    await image.decode();
    sizes[cls] = [image.naturalWidth, image.naturalHeight];
  }
  return sizes;
}"""


def _route(blocked: list[str]) -> Any:
    def handle(route: Route) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    return handle


def _visible(page: Page) -> list[str]:
    result: list[str] = page.eval_on_selector_all(
        "section.object",
        "cards => cards.filter(c => c.offsetParent !== null).map(c => c.querySelector('h2').textContent)",
    )
    return result


def test_report_in_chromium(tmp_path: Path, browser: Browser) -> None:
    out, mirror = review_job(tmp_path)
    page_file = tmp_path / "report.html"
    assert main(["report", str(out), "--s3-root", str(mirror), "--out", str(page_file), "--no-progress"]) == 1
    manifest = [json.loads(raw) for raw in (out / "output.manifest").read_text().splitlines()]
    confidences = {f"line {i + 1}": line["street"].get("confidence") for i, line in enumerate(manifest)}
    names = {int(k): v["class-name"] for k, v in manifest[0]["street"]["internal-color-map"].items()}
    with_label = {
        name: {
            f"line {i + 1}"
            for i, line in enumerate(manifest)
            if "mask-ref" in line["street"]
            and key in np.unique(read_mask(Path(line["street"]["mask-ref"]).read_bytes())).tolist()
        }
        for key, name in names.items()
        if key
    }

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", _route(blocked))
    try:
        page.goto(page_file.resolve().as_uri())
        page.wait_for_load_state("load")
        everything = _visible(page)
        overlays = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight, i.src.slice(0, 14)])"
        )
        photos = page.eval_on_selector_all("div.photo", "ds => ds.map(d => d.className)")
        decoded = page.evaluate(PHOTOS)
        workers_rows = page.eval_on_selector_all("#workers tbody tr", "rows => rows.map(r => r.cells[0].textContent)")
        heatmaps = page.locator("figure.panel:has-text('disagreement')").count()
        # filter by label: every object whose consensus holds it, no other
        label_counts = {}
        for name, expected in with_label.items():
            page.select_option("#filter-label", name)
            label_counts[name] = (set(_visible(page)), page.text_content("#visible-count"), expected)
        page.select_option("#filter-label", "")
        # filter by worker: every answered object, only that worker's panel
        worker = next(iter(WORKERS))
        page.select_option("#filter-worker", worker)
        by_worker = _visible(page)
        panels = page.eval_on_selector_all(
            "section.object:not(.hidden) [data-worker]",
            "ps => ps.filter(p => p.offsetParent !== null).map(p => p.dataset.worker)",
        )
        page.select_option("#filter-worker", "")
        page.check("#filter-review")
        reviewed = _visible(page)
        page.uncheck("#filter-review")
        after_reset = _visible(page)
        page.set_viewport_size({"width": 1280, "height": 1000})
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=False)
    finally:
        page.close()

    assert errors == []
    assert blocked == []
    # every object: failed first, then those needing review, then the rest, least agreed first in each
    _, objects, _ = load_review(out, None, None, CliStorage(str(mirror)))
    assert [o.confidence for o in objects] == list(confidences.values())

    def order(obj: ReviewObject) -> tuple[int, float]:
        agreed = float(np.mean([agreement(obj, a) for a in obj.answers])) if obj.answers else 0.0
        return (0 if obj.failure else 1 if review_reasons(obj) else 2, agreed)

    assert everything == [o.key for o in sorted(objects, key=order)]
    assert reviewed == [o.key for o in sorted(objects, key=order) if review_reasons(o)]
    assert reviewed[0] == "line 6" and len(reviewed) >= 2  # the unanswered line, and a doubtful one
    assert len(everything) == len(manifest) == 6
    # every overlay decoded: consensus mask, heatmap, 3 workers' masks per answered object
    assert len(overlays) == 5 * 5
    assert all(done and w > 0 and h > 0 and src == "data:image/png" for done, w, h, src in overlays)
    # the photo under consensus, heatmap and 3 workers (the failed line: consensus only), inlined once per
    # object as a CSS background, each one decoding to the thumbnail's size
    assert len(photos) == 5 * 5 + 1
    assert len(decoded) == 6 and all(size == [200, 150] for size in decoded.values())
    assert heatmaps == 5
    assert sorted(workers_rows) == sorted(WORKERS)
    for name, (shown, count, expected) in label_counts.items():
        assert shown == expected, name
        assert count == str(len(expected))
    assert set(by_worker) == {f"line {i}" for i in range(1, 6)}
    assert set(panels) == {worker}
    assert after_reset == everything
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("TALLY_UPDATE_SCREENSHOT"):  # the README's screenshot: TALLY_UPDATE_SCREENSHOT=1 make pytest
        (ROOT / "docs" / "report.png").write_bytes(shot.read_bytes())


# every worker panel's overlay pixels: the set of opaque colours, drawn by the browser onto a canvas
PANEL_COLOURS = """async () => {
  const out = {};
  const hex = (d, i) => '#' + [d[i], d[i + 1], d[i + 2]].map(v => v.toString(16).padStart(2, '0')).join('');
  for (const card of document.querySelectorAll('section.object')) {
    const key = card.querySelector('h2').textContent;
    for (const figure of card.querySelectorAll('figure.panel')) {
      const seen = new Set();
      for (const img of figure.querySelectorAll('img.layer')) {
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const context = canvas.getContext('2d');
        context.drawImage(img, 0, 0);
        const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < data.length; i += 4) { if (data[i + 3] > 0) { seen.add(hex(data, i)); } }
      }
      out[key + '|' + (figure.dataset.worker || figure.querySelector('b').textContent)] = [...seen].sort();
    }
  }
  return out;
}"""


def _painted(content: str) -> set[str] | None:
    """The labels a worker's answer paints (through its own labelMappings), plus "?" for a colour it
    did not map; ``None`` for an answer whose PNG does not decode (rejected: nothing is drawn)."""
    value = next(iter(json.loads(content).values()))
    try:
        with Image.open(io.BytesIO(base64.b64decode(value["labeledImage"]["pngImageData"]))) as image:
            rgba = np.asarray(image.convert("RGBA"))
    except OSError:
        return None
    painted = rgba[..., 3] > 0
    names, matched = set(), np.zeros(painted.shape, dtype=bool)
    for name, mapping in value["labelMappings"].items():
        colour = mapping["color"]
        rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
        hit = painted & np.all(rgba[..., :3] == rgb, axis=-1)
        if hit.any():
            names.add(name)
        matched |= hit
    return names | ({"?"} if (painted & ~matched).any() else set())


def test_example_job_workers_in_the_consensus_palette(tmp_path: Path, browser: Browser) -> None:
    """`make run`'s example job: each worker's panel is drawn in the consensus palette, every colour
    the colour of a label that worker painted (the sloppy worker painted `car` in #e377c2, the
    consensus colour of `sign`: its car is drawn in the consensus's car colour)."""
    event = ROOT / "events" / "consolidation.json"
    mirror = ROOT / "events" / "s3"
    out = tmp_path / "example-job"
    assert main(["consolidate", str(event), "--s3-root", str(mirror), "--out", str(out), "--no-progress"]) == 0
    page_file = tmp_path / "example-report.html"
    argv = ["report", str(out), "--source", str(event), "--s3-root", str(mirror), "--out", str(page_file)]
    assert main([*argv, "--no-progress"]) == 0
    results = [json.loads(raw) for raw in (out / "results.jsonl").read_text().splitlines()]
    labels = {r["datasetObjectId"]: r["consolidatedAnnotation"]["content"]["street-scenes"] for r in results}
    palettes = {
        i: {e["class-name"]: e["hex-color"] for e in label["internal-color-map"].values()}
        for i, label in labels.items()
    }
    payload_uri = json.loads(event.read_text())["payload"]["s3Uri"]
    payload = json.loads((mirror / payload_uri.removeprefix("s3://")).read_text())
    expected: dict[str, list[str]] = {}
    for element in payload:
        palette = palettes[element["datasetObjectId"]]
        label = labels[element["datasetObjectId"]]
        keys = set(np.unique(read_mask(Path(label["mask-ref"]).read_bytes())).tolist()) - {0}
        expected[f"object {element['datasetObjectId']}|consensus"] = sorted(
            label["internal-color-map"][str(k)]["hex-color"] for k in keys
        )
        for answer in element["annotations"]:
            names = _painted(answer["annotationData"]["content"])
            drawn = [] if names is None else sorted(UNKNOWN_HEX if n == "?" else palette[n] for n in names)
            expected[f"object {element['datasetObjectId']}|{answer['workerId']}"] = drawn
    sloppy = "private.us-east-1.c3d4e5f6a7b8c9d0"
    assert _painted(payload[1]["annotations"][2]["annotationData"]["content"]) == {"road", "car", "person"}
    assert "#e377c2" not in expected[f"object 1|{sloppy}"]  # its car (#e377c2 in its answer) is drawn as car

    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type in ("error", "warning") else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(page_file.resolve().as_uri())
        page.wait_for_load_state("load")
        drawn = page.evaluate(PANEL_COLOURS)
        shot = tmp_path / "example-report.png"
        page.screenshot(path=str(shot), full_page=False)
    finally:
        page.close()
    assert errors == []
    assert {k: v for k, v in drawn.items() if not k.endswith("|disagreement")} == expected
    assert all(UNKNOWN_HEX not in colours for colours in drawn.values())
    assert drawn[f"object 1|{sloppy}"] == sorted([palettes["1"]["road"], palettes["1"]["car"], palettes["1"]["person"]])
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("TALLY_REPORT_SCREENSHOT"):  # where to keep the screenshot, for a person to look at
        Path(os.environ["TALLY_REPORT_SCREENSHOT"]).write_bytes(shot.read_bytes())
