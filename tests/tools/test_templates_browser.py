"""Each worker template's preview in a real headless Chromium (Debian's /usr/bin/chromium driven by
python playwright): the crowd elements are a local stand-in served in place of crowd-html-elements.js,
every other non-local request is blocked; the page must load without console errors and each element
must receive the labels, the text or the (local) image, which must really load. Screenshots go to
the test's temporary directory. `make -f mk/browser.mk browser` installs Chromium and playwright."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Route

from tally.tools.cli import main
from tally.tools.preview import CROWD_SCRIPT, STAND_IN
from tests.tools.template_cases import (
    ARGS,
    CASES,
    CHROMIUM,
    IMAGE_URI,
    LABELS,
    PRIOR_MAPPINGS,
    PRIOR_URI,
    TEXT,
    Case,
    s3_mirror,
)

STUB = STAND_IN.read_text()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), (
        "Chromium is missing: run `make -f mk/browser.mk browser` (apt-get install chromium)"
    )
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError as exc:
        raise AssertionError("playwright is missing: run `make -f mk/browser.mk browser`") from exc
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


def _route(blocked: list[str]) -> Any:
    def handle(route: Route) -> None:
        url = route.request.url
        if url == CROWD_SCRIPT:
            route.fulfill(status=200, content_type="text/javascript", body=STUB)
        elif url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    return handle


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.template)
def test_preview_in_chromium(tmp_path: Path, browser: Browser, case: Case) -> None:
    mirror = s3_mirror(tmp_path / "s3")
    line = tmp_path / "line.json"
    line.write_text(json.dumps(case.line()))
    page_file = tmp_path / "preview.html"
    assert main(["preview", str(case.path), str(line), "--s3-root", str(mirror), "--out", str(page_file)]) == 0

    page = browser.new_page(viewport={"width": 640, "height": 480})
    errors: list[str] = []
    blocked: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.route("**/*", _route(blocked))
    try:
        page.goto(page_file.resolve().as_uri())
        if case.element is None:  # a form of plain controls: what they show, once the page has loaded
            page.wait_for_load_state("load")
            received = page.evaluate(_FORM_PAGE)
        else:
            page.wait_for_function("window.__crowd && window.__crowd.length === 1", timeout=10_000)
            [received] = page.evaluate("window.__crowd")
        page.screenshot(path=str(tmp_path / f"{case.template}.png"), full_page=True)
        submit = page.locator("button.crowd-stub-submit").count()
    finally:
        page.close()

    assert errors == []
    assert blocked == []
    assert submit == 1
    if case.element is None:
        _check_form_page(case, received, mirror)
        return
    assert received["tag"] == case.element
    assert received["name"] == case.element_name
    assert received[case.options_attribute] == case.expected_options()
    image = (mirror / IMAGE_URI.removeprefix("s3://")).resolve().as_uri()
    prior = (mirror / PRIOR_URI.removeprefix("s3://")).resolve().as_uri()
    if case.text:
        assert received.get("text", received.get("target")) == TEXT
        assert received["images"] == []
    else:
        assert received["src"] == image
        expected_images = [{"src": image, "width": 40, "height": 30}]
        if case.adjustment:
            assert received["initial-value"] == {"src": prior, "labelMappings": PRIOR_MAPPINGS}
            expected_images.append({"src": prior, "width": 40, "height": 30})
        assert received["images"] == expected_images
    shot = (tmp_path / f"{case.template}.png").read_bytes()
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 1000


_FORM_PAGE = """() => ({
    options: [...document.querySelectorAll("select option")].map((o) => o.value),
    images: [...document.querySelectorAll("img")].map((i) => ({src: i.src, width: i.naturalWidth, height: i.naturalHeight})),
    text: (document.querySelector("blockquote") || {}).textContent || null,
    controls: [...document.querySelectorAll("[name]")].map((e) => e.getAttribute("name")),
})"""


def _check_form_page(case: Case, received: dict[str, Any], mirror: Path) -> None:
    """A form of plain controls: the dropdown lists the labels under the (local) image, which loads; the
    rating form shows the text; every field tally reads is on the page."""
    assert set(received["controls"]) >= {name for name, _ in case.form}
    if case.text:
        assert received["text"] == TEXT
        assert received["images"] == []
    else:
        image = (mirror / IMAGE_URI.removeprefix("s3://")).resolve().as_uri()
        assert received["options"] == ["", *LABELS]  # the placeholder, then the job's labels
        assert received["images"] == [{"src": image, "width": 40, "height": 30}]


def test_requests_to_the_network_are_blocked(tmp_path: Path, browser: Browser) -> None:
    """The guard itself: a page that asks for a remote image gets it blocked (and reported)."""
    page_file = tmp_path / "remote.html"
    page_file.write_text('<img src="https://example.com/x.png">')
    page = browser.new_page()
    blocked: list[str] = []
    page.route("**/*", _route(blocked))
    try:
        page.goto(page_file.resolve().as_uri())
        page.wait_for_load_state("load")
    finally:
        page.close()
    assert blocked == ["https://example.com/x.png"]


def test_stand_in_preview_works_offline(tmp_path: Path, browser: Browser) -> None:
    """`tally preview --stand-in --embed-images`: a self-contained page that shows the element's labels
    and both images with every request other than the page itself blocked."""
    case = next(c for c in CASES if c.adjustment)
    mirror = s3_mirror(tmp_path / "s3")
    line = tmp_path / "line.json"
    line.write_text(json.dumps(case.line()))
    page_file = tmp_path / "preview.html"
    argv = ["preview", str(case.path), str(line), "--s3-root", str(mirror), "--stand-in", "--embed-images"]
    assert main([*argv, "--out", str(page_file)]) == 0
    page = browser.new_page(viewport={"width": 640, "height": 480})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    def only_the_page(route: Route) -> None:
        requests.append(route.request.url)
        if route.request.url == page_file.resolve().as_uri() or route.request.url.startswith("data:"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", only_the_page)
    try:
        page.goto(page_file.resolve().as_uri())
        page.wait_for_function("window.__crowd && window.__crowd.length === 1", timeout=10_000)
        [received] = page.evaluate("window.__crowd")
        page.screenshot(path=str(tmp_path / "stand-in.png"), full_page=True)
    finally:
        page.close()
    assert errors == []
    assert [r for r in requests if not r.startswith("data:")] == [page_file.resolve().as_uri()]
    assert received["labels"] == case.expected_options()
    assert [(i["width"], i["height"]) for i in received["images"]] == [(40, 30), (40, 30)]
    assert all(i["src"].startswith("data:image/png;base64,") for i in received["images"])
