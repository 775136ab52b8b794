"""Refresh the GUI screenshots in docs/: a sensor on the sample video (in a
temporary state folder), activated, each page taken in Debian's Chromium;
then a copy of examples/site served, its cameras page and a camera's file.

    .venv/bin/python tools/screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
from pathlib import Path

from playwright.sync_api import sync_playwright

from occusense.config import load_config
from occusense.detect.shared import DetectorPool
from occusense.fleet.service import FleetService
from occusense.fleet.site import SiteFolder
from occusense.fleet.web import SiteWeb
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.app import create_app
from occusense.web.server import WebServer
from occusense.web.state import SensorState

REPO = Path(__file__).resolve().parents[1]
VIDEO = "/usr/share/doc/opencv-doc/examples/data/vtest.avi"
PASSWORD = "Occu2026sense"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir, config.output.jsonl_path = str(folder / "state"), ""
    state = SensorState(config, folder / "config.yaml")
    server = WebServer(create_app(state), "127.0.0.1", 0)
    source = open_source(VIDEO, realtime=True, loop=True)
    threading.Thread(target=SensorRunner(state, source, 0.0, []).run, daemon=True).start()
    base = server.url.rstrip("/")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base)
        page.screenshot(path=str(args.out / "activation.png"), full_page=True)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=confirm]", PASSWORD)
        page.check("input[value=normal]")
        page.fill("input[name=answer0]", "Seven")
        page.click("button[type=submit]")
        page.wait_for_timeout(25000)  # a few points of count history
        page.screenshot(path=str(args.out / "live.png"), full_page=True)
        for name in ("region", "draw", "recipients", "schedule", "system", "maintenance",
                     "heatmap"):
            page.goto(f"{base}/{name}")
            page.wait_for_timeout(1500)
            page.screenshot(path=str(args.out / f"{name}.png"))
        page.goto(f"{base}/maintenance")
        page.get_by_role("button", name="Reset", exact=True).click()
        page.screenshot(path=str(args.out / "reset-confirm.png"))
        site_screenshots(browser, args.out, folder)
        browser.close()
    server.stop()
    print(f"screenshots in {args.out}")


def site_screenshots(browser, out: Path, folder: Path) -> None:
    """The example site (a copy), activated: /cameras and a camera's file."""
    root = folder / "site"
    shutil.copytree(REPO / "examples" / "site", root)
    service = FleetService(SiteFolder(root), DetectorPool())
    service.sync()
    server = WebServer(SiteWeb(service, SiteFolder(root).settings()).app, "127.0.0.1", 0)
    base = server.url.rstrip("/")
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(base)
        page.fill("input[name=password]", PASSWORD)
        page.fill("input[name=confirm]", PASSWORD)
        page.check("input[value=normal]")
        page.click("button[type=submit]")
        page.wait_for_timeout(8000)  # thumbnails, counts and frame rates
        page.screenshot(path=str(out / "cameras.png"), full_page=True)
        page.goto(f"{base}/cameras/entrance/file")
        page.screenshot(path=str(out / "camera-file.png"))
    finally:
        server.stop()
        service.stop()


if __name__ == "__main__":
    main()
