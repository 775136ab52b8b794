"""Issue 28: the GUI on a phone and with the keyboard, and a Live page that
says when the sensor cannot be reached (Debian's Chromium via Playwright)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.test_browser import activate, browser, wait_for_picture  # noqa: F401 - fixtures

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 3}


def phone_page(browser):  # noqa: F811
    return browser.new_context(**PHONE).new_page()


def tap_at(page: Page, fx: float, fy: float) -> None:
    page.locator("#shapes").scroll_into_view_if_needed()
    box = page.locator("#shapes").bounding_box()
    page.touchscreen.tap(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
    page.wait_for_timeout(700)  # two taps, not one double-tap


def test_a_region_is_drawn_by_taps_on_a_phone_and_the_picture_fits(sensor, browser):  # noqa: F811
    state, base = sensor
    page = phone_page(browser)
    activate(page, base)
    page.goto(f"{base}/region")
    wait_for_picture(page)
    picture = page.locator("#picture").bounding_box()
    assert picture["width"] <= 390 - 16, picture  # the whole picture on the screen
    before = len(state.config.region_counting.regions)
    page.select_option("#tool", "region")
    for fx, fy in ((0.1, 0.1), (0.4, 0.1), (0.4, 0.4)):
        tap_at(page, fx, fy)
    expect(page.locator("#message")).to_contain_text("3 point(s)")
    page.click("#finish")
    expect(page.locator("#message")).to_contain_text("region drawn")
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    regions = state.config.region_counting.regions
    assert len(regions) == before + 1
    assert [round(v, 1) for v in regions[-1].points[1]] == [0.4, 0.1]
    page.context.close()


def test_a_double_click_finishes_a_shape(sensor, browser):  # noqa: F811
    state, base = sensor
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    activate(page, base)
    page.goto(f"{base}/draw")
    wait_for_picture(page)
    page.select_option("#tool", "mask")
    box = page.locator("#shapes").bounding_box()
    at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # noqa: E731
    page.mouse.click(*at(0.1, 0.6))
    page.mouse.click(*at(0.3, 0.6))
    page.mouse.dblclick(*at(0.3, 0.9))
    expect(page.locator("#message")).to_contain_text("mask drawn")
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    [mask] = state.config.privacy_masks.masks
    assert len(mask.points) == 3  # the double-click's second click added no corner
    page.context.close()


def test_a_region_is_drawn_and_a_corner_moved_with_the_keyboard_alone(sensor, browser):  # noqa: F811
    state, base = sensor
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    activate(page, base)
    page.goto(f"{base}/region")
    wait_for_picture(page)
    page.select_option("#tool", "region")
    page.focus("#canvas")
    outline = page.evaluate(
        "() => getComputedStyle(document.getElementById('canvas')).outlineStyle")
    assert outline != "none"  # the focus is visible
    expect(page.locator("#shapes path.cursor")).to_have_count(1)
    keys = page.keyboard
    keys.press("Enter")  # the cross starts at the centre (0.5, 0.5)
    for _ in range(2):
        keys.press("Shift+ArrowRight")  # +0.10
    keys.press("Enter")
    for _ in range(2):
        keys.press("Shift+ArrowDown")
    keys.press("Enter")
    keys.press("Shift+Enter")
    expect(page.locator("#message")).to_contain_text("region drawn")
    page.locator("#name").fill("keyboard corner")
    page.focus("#canvas")  # Select is on: Enter steps to the second corner, arrows move it
    keys.press("Enter")
    keys.press("ArrowUp")
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    region = state.config.region_counting.regions[-1]
    assert region.name == "keyboard corner"
    assert region.points[0] == [0.5, 0.5] or tuple(region.points[0]) == (0.5, 0.5)
    assert abs(region.points[1][0] - 0.6) < 1e-6 and abs(region.points[1][1] - 0.49) < 1e-6
    assert abs(region.points[2][1] - 0.6) < 1e-6
    page.context.close()
