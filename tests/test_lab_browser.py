"""ganforge lab's pages in a real browser: headless Chromium driven by Playwright.

The lab server runs in a background thread (uvicorn on a free loopback port) with a runs
root holding one tiny run trained here. Playground: play, frames arrive and the modes
covered rise; switching the objective restarts the session with it; drawn points become
the real data. Runs page: the run is listed, opens with its config, curves, a sample
image and a working sample slider. No page logs a console error or throws.

Uses Debian's Chromium (/usr/bin/chromium; Playwright never downloads a browser); the
module is skipped when Playwright or that browser is missing.

``GANFORGE_SCREENSHOTS=1 python -m pytest -q tests/test_lab_browser.py -k screenshots``
also writes docs/lab-playground.png and docs/lab-runs.png (a ring8 session of 1,500
iterations, and the runs page with a digits run trained for the picture: ~3 min).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    pytest.skip(
        "Playwright for Python is not installed (pip install playwright; the browser is "
        "Debian's chromium, never downloaded)",
        allow_module_level=True,
    )
if not CHROMIUM.is_file():  # pragma: no cover - depends on the environment
    pytest.skip(
        f"{CHROMIUM} not found (apt-get install chromium); the browser tests use it",
        allow_module_level=True,
    )

import torch  # noqa: E402
import uvicorn  # noqa: E402

from ganforge.lab import bind, create_app  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RUN = "gan-ring8-0001"
#: Generous: the CI machine is two slow cores, shared with the browser.
TRAIN_TIMEOUT_MS = 60_000
FRAME_TIMEOUT_MS = 20_000


# -- fixtures --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def runs_root(
    tmp_path_factory: pytest.TempPathFactory, tiny_ring8_template: Callable[[], dict[str, Any]]
) -> Path:
    """A runs root with one tiny trained ring8 run (two sample grids) and a card."""
    from ganforge.engine.run import train
    from ganforge.metrics.cards import Card

    root = tmp_path_factory.mktemp("runs")
    cfg = tiny_ring8_template()
    cfg["recipe"] = "gan-ring8"
    cfg["train"].update(steps=20, sample_every=10, ckpt_every=20, tensorboard=False)
    run = train(cfg, out=root / RUN, progress=False)
    Card(
        metric="mode-coverage",
        values={"modes": 5.0, "hq": 0.5},
        primary="modes",
        extractor="identity",
        weights_sha256=None,
        preprocessing={},
        n_real=None,
        n_fake=2500,
        reference={"data": {"name": "ring8"}},
        fake={"source": str(run), "step": 20},
    ).save(run / "cards")
    return root


def serve_in_thread(root: Path) -> Iterator[str]:
    """The lab app under uvicorn on a free loopback port, in a daemon thread; yields its
    URL once it accepts connections and stops it afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as `ganforge lab` does: sessions and browser share 2 cores
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    app = create_app(root, max_sessions=4, idle_timeout=30.0)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="lab-server", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the lab server did not start")
        time.sleep(0.05)
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass  # it accepts
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)
        sock.close()
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lab_url(runs_root: Path) -> Iterator[str]:
    yield from serve_in_thread(runs_root)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield b
        b.close()


class Console:
    """Console errors, uncaught exceptions and failed requests of one page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("requestfailed", lambda r: self.errors.append(f"failed: {r.method} {r.url}"))

    def _console(self, msg: Any) -> None:
        if msg.type == "error":
            self.errors.append(f"console.error: {msg.text} ({msg.location.get('url', '')})")


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (1400x900); the test fails if the page logged an error (test e)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(FRAME_TIMEOUT_MS)
    console = Console(pg)
    yield pg
    pg.close()  # pagehide: the page closes its socket and deletes its session
    context.close()
    assert console.errors == [], "the page logged errors:\n" + "\n".join(console.errors)


# -- helpers -------------------------------------------------------------------------------
def open_playground(page: Page, url: str) -> None:
    """Load the playground and wait for its first session's first frame (paused)."""
    page.goto(url + "/")
    page.wait_for_function("window.labState && labState.sessionId && labState.frames > 0")
    assert page.evaluate("labState.playing") is False


def step_shown(page: Page) -> int:
    m = re.search(r"step (\d+)", page.text_content("#status") or "")
    assert m, page.text_content("#status")
    return int(m.group(1))


def modes_shown(page: Page) -> int:
    text = page.text_content("#metric-modes") or ""
    m = re.match(r"\s*(\d+) / (\d+)", text)
    assert m, text
    return int(m.group(1))


def wait_for_steps(page: Page, at_least: int, timeout: int = FRAME_TIMEOUT_MS) -> None:
    """Until the page's status shows step >= at_least (frames are arriving)."""
    page.wait_for_function(
        "n => { const m = /step (\\d+)/.exec(document.getElementById('status').textContent);"
        " return m && Number(m[1]) >= n; }",
        arg=at_least,
        timeout=timeout,
    )


def set_speed_max(page: Page) -> None:
    page.focus("#speed")
    page.keyboard.press("End")
    assert page.input_value("#speed") == "100"


RING_DISTANCE = """() => {
  const f = labState.lastFrame;
  return f.fake.reduce((s, p) => s + Math.abs(Math.hypot(p[0], p[1]) - 1), 0) / f.fake.length;
}"""


# -- playground ------------------------------------------------------------------------------
def test_play_streams_frames_and_covers_modes(page: Page, lab_url: str) -> None:
    """(a) Play: the step counter rises, fakes move onto the ring, modes covered rise."""
    open_playground(page, lab_url)
    # LSGAN at lr 3e-3 covers most of ring8's modes within ~200 iterations (seed 0).
    page.uncheck("#auto-apply")
    page.select_option("#objective", "lsgan")
    for field in ("#g-lr", "#d-lr"):
        page.fill(field, "0.003")
    page.fill("#seed", "0")
    set_speed_max(page)
    start_modes = modes_shown(page)
    start_distance = page.evaluate(RING_DISTANCE)
    old_id = page.evaluate("labState.sessionId")

    page.click("#play")  # unapplied changes: Play applies them first
    page.wait_for_function("id => labState.sessionId && labState.sessionId !== id", arg=old_id)
    assert page.evaluate("labState.config.objective") == "lsgan"
    assert page.evaluate("labState.config.g.lr") == 0.003
    wait_for_steps(page, 1)
    first = step_shown(page)
    t0 = time.monotonic()
    page.wait_for_function(
        "n => { const m = /^(\\d+) \\/ (\\d+)/.exec("
        "document.getElementById('metric-modes').textContent);"
        " return m && Number(m[1]) > n && Number(m[1]) >= Number(m[2]) / 2; }",
        arg=start_modes,
        timeout=TRAIN_TIMEOUT_MS,
    )
    took = time.monotonic() - t0
    assert step_shown(page) > first
    assert modes_shown(page) > start_modes
    assert page.evaluate("labState.playing") is True
    assert page.evaluate(RING_DISTANCE) < start_distance, "the fakes did not approach the ring"
    status = page.text_content("#status") or ""
    assert "lsgan on ring8" in status and "playing" in status, status
    # the charts got data; pause stops the counter
    assert page.evaluate("labState.history.length") > 1
    page.click("#pause")
    page.wait_for_function("document.getElementById('status').textContent.endsWith('paused')")
    paused_at = step_shown(page)
    time.sleep(0.5)
    assert step_shown(page) == paused_at
    print(f"modes {start_modes} -> {modes_shown(page)} in {took:.1f} s, step {paused_at}")


def test_switching_the_objective_restarts_the_session(page: Page, lab_url: str) -> None:
    """(b) A new objective while playing: a new session with it, still playing."""
    open_playground(page, lab_url)
    page.click("#play")
    wait_for_steps(page, 20)
    old_id = page.evaluate("labState.sessionId")
    assert page.evaluate("labState.config.objective") == "ns"

    page.select_option("#objective", "hinge")  # "apply on change" is on by default
    page.wait_for_function("id => labState.sessionId && labState.sessionId !== id", arg=old_id)
    assert page.evaluate("labState.config.objective") == "hinge"
    page.wait_for_function("labState.frames > 3 && labState.lastFrame.playing")
    s1 = page.evaluate("labState.lastFrame.step")
    page.wait_for_function("n => labState.lastFrame.step > n", arg=s1)
    page.wait_for_function("document.getElementById('status').textContent.includes('hinge')")
    assert "ns on" not in (page.text_content("#status") or "")
    assert "hinge" in (page.text_content("#objective-info") or "").lower()  # its summary
    losses = page.evaluate("labState.lastFrame.losses")
    assert losses["d"] is not None and losses["g"] is not None


def test_drawn_points_become_the_real_data(page: Page, lab_url: str) -> None:
    """(c) Draw your own data with the mouse; Play trains on exactly those points."""
    open_playground(page, lab_url)
    page.select_option("#data", "custom")  # no points yet: draw mode turns on
    page.wait_for_function("labState.drawMode === true")
    assert page.get_attribute("#draw-mode", "aria-pressed") == "true"
    view = page.evaluate("labState.view")
    assert view == {"x": [-4, 4], "y": [-4, 4]}, view  # the whole square points may lie in

    box = page.locator("#plane").bounding_box()
    assert box is not None
    border = page.evaluate("document.getElementById('plane').clientLeft")
    size = box["width"] - 2 * border

    def at(x: float, y: float) -> tuple[float, float]:  # world -> page pixels
        return (
            box["x"] + border + (x + 4) / 8 * size,
            box["y"] + border + (4 - y) / 8 * size,
        )

    # a stroke along y = 2 from x = -2 to 2, then a single click at (-2, -2)
    page.mouse.move(*at(-2, 2))
    page.mouse.down()
    for k in range(1, 41):
        page.mouse.move(*at(-2 + 4 * k / 40, 2))
    page.mouse.up()
    page.mouse.click(*at(-2, -2))
    drawn = page.evaluate("labState.drawPoints")
    assert len(drawn) >= 10
    assert page.text_content("#draw-count") == f"{len(drawn)} points"
    for x, y in drawn[:-1]:
        assert abs(y - 2) < 0.05 and -2.05 < x < 2.05, (x, y)
    assert abs(drawn[-1][0] + 2) < 0.05 and abs(drawn[-1][1] + 2) < 0.05, drawn[-1]

    old_id = page.evaluate("labState.sessionId")
    page.click("#play")
    page.wait_for_function("id => labState.sessionId && labState.sessionId !== id", arg=old_id)
    config = page.evaluate("labState.config")
    assert config["data"] == "custom"
    assert len(config["points"]) == len(drawn)
    assert page.evaluate("labState.drawMode") is False
    wait_for_steps(page, 1)
    s1 = page.evaluate("labState.lastFrame.step")
    page.wait_for_function("n => labState.lastFrame.step > n", arg=s1)
    assert "drawn points" in (page.text_content("#status") or "")
    frame = page.evaluate("labState.lastFrame")
    # every real sample is a drawn point plus a little jitter (std 0.03)
    for x, y in frame["real"]:
        near = min((x - px) ** 2 + (y - py) ** 2 for px, py in drawn)
        assert near < 0.2**2, (x, y)
    on_line = sum(abs(y - 2) < 0.2 for _, y in frame["real"])
    assert 0.5 * len(frame["real"]) < on_line < len(frame["real"])  # both parts drawn
    assert frame["metrics"]["modes_total"] >= 2
    b = frame["bounds"]
    assert b["x"][0] <= -2 and b["x"][1] >= 2 and b["y"][0] <= -2 and b["y"][1] >= 2


# -- runs ------------------------------------------------------------------------------------
CANVAS_INK = """id => {
  const c = document.getElementById(id);
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""


def test_runs_page_opens_a_run(page: Page, lab_url: str) -> None:
    """(d) The run is listed; opening it shows config, curves, samples, its card."""
    page.goto(lab_url + "/runs")
    row = page.locator(f'#runs-table tbody tr[data-run="{RUN}"]')
    row.wait_for()
    assert page.locator("#runs-table tbody tr").count() == 1
    assert "gan-ring8" in (row.text_content() or "")
    row.click()
    page.wait_for_function(f"runsState.detail && runsState.detail.name === {RUN!r}")
    assert page.locator("#run-body").is_visible()
    assert page.text_content("#run-title") == RUN
    config = page.text_content("#run-config") or ""
    assert "recipe: gan-ring8" in config and "name: mlp-g" in config, config[:300]

    # a loss curve on the canvas
    curves = page.locator("#curves")
    assert curves.is_visible()
    assert page.evaluate("runsState.detail.metrics.length") >= 2
    checked = page.eval_on_selector_all("#curve-keys input:checked", "els => els.map(e => e.value)")
    assert "loss/d" in checked and "loss/g" in checked
    page.wait_for_function(f"({CANVAS_INK})('curves') > 500")

    # the sample image, last one first; the slider walks through them
    image_loaded = (
        "() => { const i = document.getElementById('sample-image');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    page.wait_for_function(image_loaded)
    samples = page.evaluate("runsState.samples")
    assert samples == [
        "samples/step-00000010.png",
        "samples/step-00000020.png",
        "samples/final.png",
    ]
    assert (page.get_attribute("#sample-image", "src") or "").endswith("/samples/final.png")
    assert page.text_content("#sample-label") == "final"
    page.focus("#sample-slider")
    page.keyboard.press("Home")
    assert page.text_content("#sample-label") == "10"
    assert (page.get_attribute("#sample-image", "src") or "").endswith("step-00000010.png")
    page.wait_for_function(image_loaded)
    page.keyboard.press("ArrowRight")
    assert page.text_content("#sample-label") == "20"
    page.wait_for_function(image_loaded)

    # the card
    cards = page.locator("#cards-table tbody tr")
    assert cards.count() == 1
    assert "mode-coverage" in (cards.text_content() or "")

    # the error banner (shared by both pages): shown with its message, then cleared
    shown = page.evaluate(
        "() => { const b = ganforgeCharts.errorBanner(runsState); b.show('no such run');"
        " const r = [!document.getElementById('error').hidden, runsState.error,"
        " document.getElementById('error-text').textContent]; b.clear();"
        " return [...r, document.getElementById('error').hidden, runsState.error]; }"
    )
    assert shown == [True, "no such run", "no such run", True, None]


# -- screenshots for the docs (only with GANFORGE_SCREENSHOTS=1) -----------------------------
SHOTS = os.environ.get("GANFORGE_SCREENSHOTS") == "1"


@pytest.fixture(scope="module")
def showcase_url(
    tmp_path_factory: pytest.TempPathFactory, tiny_ring8_template: Callable[[], dict[str, Any]]
) -> Iterator[str]:
    """A runs root for the picture (about 2 min to train on 2 cores): the shipped
    gan-digits recipe cut to 800 steps, and a small ring8 run with a mode-coverage card."""
    from ganforge.config import read_recipe
    from ganforge.engine.run import train
    from ganforge.metrics.evaluate import evaluate_run

    root = tmp_path_factory.mktemp("showcase")
    ring = tiny_ring8_template()
    ring["recipe"] = "gan-ring8"
    ring["train"].update(steps=300, log_every=10, sample_every=100, ckpt_every=300)
    ring_dir = train(ring, out=root / "gan-ring8-0001", progress=False)
    evaluate_run(ring_dir, ["mode-coverage"], n=2500)
    digits = read_recipe("gan-digits")
    digits["train"].update(steps=800, log_every=20, sample_every=200, ckpt_every=800)
    train(digits, out=root / "gan-digits-0001", progress=False)
    yield from serve_in_thread(root)


@pytest.mark.skipif(not SHOTS, reason="writes docs/*.png: set GANFORGE_SCREENSHOTS=1")
def test_screenshots(page: Page, showcase_url: str) -> None:
    # The playground: default settings, ring8, every layer, a few seconds of training.
    open_playground(page, showcase_url)
    page.click("#play")
    wait_for_steps(page, 1500, timeout=TRAIN_TIMEOUT_MS)
    page.click("#pause")
    page.wait_for_function("document.getElementById('status').textContent.endsWith('paused')")
    page.wait_for_timeout(500)  # the charts' throttled redraw
    page.screenshot(path=str(REPO / "docs" / "lab-playground.png"))

    page.goto(showcase_url + "/runs#gan-digits-0001")
    page.wait_for_function("runsState.detail && runsState.detail.name === 'gan-digits-0001'")
    page.wait_for_function(
        "() => { const i = document.getElementById('sample-image');"
        " return i.complete && i.naturalWidth > 0; }"
    )
    page.wait_for_timeout(300)
    page.screenshot(path=str(REPO / "docs" / "lab-runs.png"))
