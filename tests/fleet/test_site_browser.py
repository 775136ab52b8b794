"""Issue 20: the site in a real headless Chromium: every camera on one page
with a live thumbnail and counts, each camera's own pages one click away,
a camera added and removed from the page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.fleet.conftest import Site
from tests.web.test_browser import activate


def thumbnail_width(page: Page, camera: str) -> int:
    return page.evaluate(f"""() => new Promise(done => {{
        const img = document.querySelector('article[data-camera="{camera}"] img');
        const check = () => img && img.naturalWidth ? done(img.naturalWidth)
                                                    : setTimeout(check, 100);
        check(); }})""")


def test_every_camera_on_one_page_and_its_own_pages_one_click_away(site: Site, page: Page):
    assert site.running("lobby", "entrance")
    activate(page, site.url, "/cameras")
    cards = page.locator("article.camera")
    expect(cards).to_have_count(2)
    assert thumbnail_width(page, "lobby") == 320
    lobby = page.locator('article[data-camera="lobby"]')
    expect(lobby.locator('[data-field="status"]')).to_have_text("running")
    expect(lobby.locator('[data-field="fps"]')).not_to_have_text("–", timeout=10000)
    expect(lobby.locator('[data-field="regions"]')).to_contain_text("west walkway")
    page.click('article[data-camera="lobby"] h2 a')
    expect(page).to_have_url(f"{site.url}/cameras/lobby/live")
    expect(page.locator("header")).to_contain_text("Test site")
    expect(page.locator("dd[data-count=people]")).to_be_visible(timeout=20000)
    page.click("nav >> text=Regions")
    expect(page).to_have_url(f"{site.url}/cameras/lobby/region")
    page.click("nav >> text=All cameras")
    expect(page).to_have_url(f"{site.url}/cameras")


def test_a_camera_added_and_removed_from_the_page(site: Site, page: Page):
    activate(page, site.url, "/cameras")
    page.fill("input[name=camera]", "yard")
    page.fill("input[name=name]", "Yard")
    page.fill("input[name=uri]", str(site.service.cameras["lobby"].state.config.source.uri))
    page.click("form.add-camera button[type=submit]")
    expect(page.locator(".ok")).to_contain_text("camera yard added")
    expect(page.locator("article.camera")).to_have_count(3)
    assert thumbnail_width(page, "yard") == 320
    page.click('article[data-camera="yard"] button:text("Remove")')
    expect(page.locator(".confirm")).to_contain_text("its state folder stays")
    page.click("button:text('Remove')")
    expect(page.locator(".ok")).to_contain_text("camera yard removed")
    expect(page.locator("article.camera")).to_have_count(2)


def test_a_bad_source_from_the_page_shows_why(site: Site, page: Page):
    activate(page, site.url, "/cameras")
    page.fill("input[name=camera]", "gate")
    page.fill("input[name=uri]", "/no/such/camera.mp4")
    page.click("form.add-camera button[type=submit]")
    gate = page.locator('article[data-camera="gate"]')
    expect(gate.locator('[data-field="status"]')).to_have_text("failed")
    expect(gate.locator(".error")).to_contain_text("/no/such/camera.mp4")
