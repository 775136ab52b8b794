"""Issue 28 (12-15) on a site: axe-core finds nothing on its pages, they fit
a phone, a camera's pages name the camera, a bad camera is not "added"."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.fleet.conftest import Site
from tests.web.test_accessibility import violations
from tests.web.test_browser import activate
from tests.web.test_screens import phone_page, too_wide

SITE_PAGES = ("/cameras", "/cameras/lobby/file", "/account", "/about", "/spaces",
              "/cameras/lobby/live",
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


def test_a_camera_that_cannot_start_is_not_said_to_be_added(site: Site, browser):
    """Issue 28 (12): the add form says at once, in red, that the camera
    cannot start; the card's Reports say what "none" meant; a camera with no
    picture yet has a thumbnail saying so (not a 503)."""
    import httpx

    assert site.running("lobby")
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    activate(page, site.url, "/cameras")
    page.fill("input[name=camera]", "yard")
    page.fill("input[name=uri]", "/no/such/video.mp4")
    page.click("form.add-camera button[type=submit]")
    expect(page.locator("[role=alert]")).to_contain_text("camera yard was added but cannot start")
    expect(page.locator("p.ok")).to_have_count(0)
    lobby = page.locator('article[data-camera="lobby"]')
    expect(lobby.locator('[data-field="delivery"]')).to_have_text(
        "no recipient set (console and file only)")
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    answer = httpx.get(f"{site.url}/cameras/yard/thumbnail.jpg", cookies=cookies)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    assert answer.content[:2] == b"\xff\xd8"
    page.context.close()
