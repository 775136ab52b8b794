"""A real site: a folder of camera files, the service running them on the
sample video, and the site's web server on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from occusense.detect.shared import DetectorPool
from occusense.fleet.service import FleetService
from occusense.fleet.site import SiteFolder
from occusense.fleet.web import SiteWeb, site_account
from occusense.web.server import WebServer
from tests.conftest import REPO, SAMPLE_VIDEO
from tests.transports.conftest import broker, ca, wait_for  # noqa: F401 - fixtures
from tests.web.test_browser import browser, page  # noqa: F401 - fixtures

PASSWORD = "Occu2026sense"


def camera_document(name: str = "", **extra) -> dict:
    """The bundled example's shapes on the sample video, paced as a camera."""
    data = yaml.safe_load((REPO / "examples" / "vtest.yaml").read_text())
    data.pop("output")
    data["source"] = {"uri": str(SAMPLE_VIDEO), "realtime": True}
    if name:
        data["device"] = {"name": name}
    return data | extra


def write_camera(site: Path, camera: str, **extra) -> Path:
    path = site / "cameras" / f"{camera}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(camera_document(**extra)))
    return path


@dataclass
class Site:
    root: Path
    service: FleetService
    url: str = ""
    web: SiteWeb | None = None

    def running(self, *cameras: str, timeout: float = 30) -> bool:
        """Every camera named has counted frames."""
        def counted() -> bool:
            known = self.service.cameras
            return all(c in known and known[c].state is not None
                       and known[c].state.run.frames > 0 for c in cameras)
        return wait_for(counted, timeout=timeout)


def start_site(root: Path, web: bool = True) -> tuple[Site, threading.Thread]:
    folder = SiteFolder(root)
    service = FleetService(folder, DetectorPool(workers=2))
    site = Site(root, service)
    account = site_account(service)  # as serve: the site's privacy mode before the cameras
    service.sync()
    if web:
        site.web = SiteWeb(service, folder.settings(), account)
        server = WebServer(site.web.app, "127.0.0.1", 0)
        site.url = server.url.rstrip("/")
        site.server = server  # type: ignore[attr-defined]
    follower = threading.Thread(target=service.run, daemon=True)
    follower.start()
    return site, follower


@pytest.fixture
def site(tmp_path) -> Iterator[Site]:
    """Two cameras (lobby, entrance) on the sample video, the web GUI on
    plain-HTTP cookies (an HTTP client that is not a browser)."""
    root = tmp_path / "site"
    write_camera(root, "lobby", name="Lobby")
    write_camera(root, "entrance")
    (root / "site.yaml").write_text("name: Test site\nweb:\n  secure_cookies: false\n")
    running, follower = start_site(root)
    yield running
    if running.web is not None:
        running.server.stop()  # type: ignore[attr-defined]
    running.service.stop()
    follower.join(timeout=10)
