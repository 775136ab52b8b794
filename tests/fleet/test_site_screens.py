"""Issue 28 (12-15) on a site: axe-core finds nothing on its pages, they fit
a phone, a camera's pages name the camera, a bad camera is not "added"."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.fleet.conftest import Site
from tests.web.test_accessibility import violations
from tests.web.test_browser import activate
from tests.web.test_screens import phone_page, too_wide

SITE_PAGES = ("/cameras", "/cameras/lobby/file", "/account", "/about", "/cameras/lobby/live",
              "/cameras/lobby/region", "/cameras/lobby/system", "/cameras/no-such-camera/live")


def test_no_site_page_has_an_accessibility_violation(site: Site, browser):
    assert site.running("lobby", "entrance")
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    activate(page, site.url, "/cameras")
    problems = {}
    for path in SITE_PAGES:
        page.goto(f"{site.url}{path}")
        page.wait_for_timeout(800)
        if found := violations(page):
            problems[path] = found
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())
    page.context.close()


def test_site_pages_fit_a_phone_and_name_their_camera(site: Site, browser):
    assert site.running("lobby", "entrance")
    page = phone_page(browser)
    activate(page, site.url, "/cameras")
    for path in ("/cameras", "/cameras/lobby/file", "/cameras/lobby/live"):
        page.goto(f"{site.url}{path}")
        page.wait_for_timeout(1000)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, (path, width, too_wide(page))
    page.goto(f"{site.url}/cameras/lobby/region")
    assert "Lobby" in page.title() and "Region" in page.title()
    page.goto(f"{site.url}/cameras/lobby/line")
    assert "Lobby" in page.title() and "Line" in page.title()
    page.context.close()
