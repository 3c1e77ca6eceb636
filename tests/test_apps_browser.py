"""End to end, as a person would: the combined demo in a real headless Chromium.

Debian's ``chromium`` (installed by ``make test``'s ``browser`` step) is driven by Playwright;
the app runs in a subprocess on 127.0.0.1. Screenshots of each tab go to ``$ONNXKIT_SCREENSHOTS``
(``docs/`` to refresh the committed ones) or to the test's temp dir.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import local_server  # noqa: E402

CHROMIUM = os.environ.get("ONNXKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
EXPORTED = Path(os.environ.get("ONNXKIT_EXPORTED") or ROOT / "exported")
TIMEOUT_MS = 60_000


def shipped(*tasks: str) -> list[str]:
    from toolkit.manifest import read_manifest

    return [p.parent.name for p in sorted(EXPORTED.glob("*/manifest.json"))
            if read_manifest(p.parent, verify_hashes=False).task in tasks]


def need(*tasks: str) -> None:
    if not shipped(*tasks):
        pytest.skip(f"no shipped export of task {'/'.join(tasks)} in exported/ yet")


@pytest.fixture(scope="module")
def browser():
    if not (Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium (needs root or sudo)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e .[test])")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    log = tmp_path_factory.mktemp("browser-app") / "app.log"
    port = local_server.free_port()
    process = local_server.start([sys.executable, "-m", "apps", "--exported", str(EXPORTED), "--port", str(port)],
                                 port, log_path=log)
    try:
        local_server.wait_ready(process, port, log_path=log)
        yield f"http://127.0.0.1:{port}/"
    finally:
        local_server.stop(process)


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    target = os.environ.get("ONNXKIT_SCREENSHOTS")
    path = Path(target) if target else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture()
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1200, "height": 1100})
    page.set_default_timeout(TIMEOUT_MS)
    # Not "networkidle": with per-session state (the face gallery) Gradio keeps a heartbeat open.
    page.goto(app_url, wait_until="load")
    page.get_by_role("tab").first.wait_for(state="visible")
    yield page
    page.close()


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def draw_seven(page, sketch_id: str) -> None:
    """Draw a 7 with the mouse on a sketchpad, as a visitor would."""
    sketch = page.locator(f"#{sketch_id}")
    sketch.get_by_role("button", name="Brush").click()
    box = sketch.locator("canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    s = min(box["width"], box["height"]) * 0.3
    page.mouse.move(cx - s, cy - s)
    page.mouse.down()
    for t in range(1, 11):
        page.mouse.move(cx - s + 2 * s * t / 10, cy - s)
    for t in range(1, 11):
        page.mouse.move(cx + s - s * t / 10, cy - s + 2 * s * t / 10)
    page.mouse.up()


def wait_for_image(page, elem_id: str):
    image = page.locator(f"#{elem_id} img")
    image.first.wait_for(state="visible")
    page.wait_for_function(f"() => {{ const i = document.querySelector('#{elem_id} img'); "
                           "return i && i.complete && i.naturalWidth > 0; }")
    return image.first


def test_generate_shows_samples(page, shots):
    need("image-generator", "conditional-generator")
    open_tab(page, "Generate")
    page.locator("#generate-button").click()
    image = wait_for_image(page, "generate-output")
    assert image.evaluate("i => i.naturalWidth") >= 256
    page.get_by_role("button", name="Interpolate").click()
    wait_for_image(page, "generate-strip")
    page.screenshot(path=str(shots / "demo-generate.png"), full_page=True)


def test_write_streams_text(page, shots):
    need("text-generator")
    open_tab(page, "Write")
    prompt = page.locator("#write-prompt textarea")
    prompt.fill("The object ")
    page.locator("#write-button").click()
    output = page.locator("#write-output textarea")
    page.wait_for_function("() => { const t = document.querySelector('#write-output textarea'); "
                           "return t && t.value.startsWith('The object ') && t.value.length >= 'The object '.length + 300; }")
    assert output.input_value().startswith("The object ")
    page.screenshot(path=str(shots / "demo-write.png"), full_page=True)


def test_classify_a_drawn_digit_and_refuse_an_empty_canvas(page, shots):
    need("classifier")
    open_tab(page, "Classify")
    page.locator("#classify-button").click()  # nothing drawn yet: a message, not a traceback
    page.get_by_text("please draw or upload the digit first").first.wait_for(state="visible")
    draw_seven(page, "classify-sketch")
    page.locator("#classify-button").click()
    output = page.locator("#classify-output")
    page.wait_for_function("() => /%/.test(document.querySelector('#classify-output').innerText)")
    assert output.inner_text().split()[2] == "7"  # "Top 3", the best label, then the list
    page.screenshot(path=str(shots / "demo-classify.png"), full_page=True)


def test_latent_space_reconstructs_a_drawing(page, shots):
    need("autoencoder", "vae")
    open_tab(page, "Latent space")
    draw_seven(page, "latent-sketch-a")
    page.locator("#latent-button").click()
    wait_for_image(page, "latent-output")
    page.screenshot(path=str(shots / "demo-latent.png"), full_page=True)


def test_face_match_shows_a_match_table(page, shots, tmp_path):
    need("face-detector")
    need("face-embedder")
    from PIL import Image
    from skimage import data

    photo = tmp_path / "astronaut.png"
    Image.fromarray(data.astronaut()).save(photo)
    open_tab(page, "Face match")
    page.locator("#faces-photo input[type=file]").set_input_files(str(photo))
    page.locator("#faces-button").click()
    wait_for_image(page, "faces-drawn")
    page.wait_for_function("() => /%|\\d\\.\\d/.test(document.querySelector('#faces-table').innerText)")
    assert "face(s) found" in page.locator("#faces-summary").inner_text()
    page.screenshot(path=str(shots / "demo-faces.png"), full_page=True)
