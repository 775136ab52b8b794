"""The web GUI in a real headless Chromium (Debian's, driven by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import yaml
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.web.conftest import PASSWORD

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1200})
    page = context.new_page()
    yield page
    context.close()


def activate(page: Page, base: str, lands: str = "/live") -> None:
    """Activate a sensor (or a site: it ``lands`` on /cameras) in the browser."""
    page.goto(base)
    expect(page).to_have_url(f"{base}/activate")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=confirm]", PASSWORD)
    page.check("input[value=normal]")
    page.fill("input[name=answer0]", "Seven")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}{lands}")


def test_activate_watch_counts_and_log_out(sensor, page) -> None:
    _state, base = sensor
    activate(page, base)
    # the live counts arrive and the MJPEG stream shows pictures
    expect(page.locator("dd[data-count=people]")).to_be_visible(timeout=20000)
    size = page.evaluate("""() => new Promise(done => {
        const img = document.getElementById('stream');
        const check = () => img.naturalWidth ? done(img.naturalWidth) : setTimeout(check, 100);
        check(); })""")
    assert size == 768
    seen = set()
    for _ in range(40):
        seen.add(page.locator("dd[data-count=people]").inner_text())
        page.wait_for_timeout(250)
    assert len(seen) >= 2  # people come and go on the sample
    page.click("text=Log out")
    expect(page).to_have_url(f"{base}/login")


def test_wrong_password_and_csrf_less_post_are_refused(sensor, page) -> None:
    state, base = sensor
    activate(page, base)
    page.click("text=Log out")
    page.fill("input[name=password]", "Wrong2026pass")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("wrong user name or password")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/live")
    status = page.evaluate("""async () => (await fetch('/api/config/line_crossing', {
        method: 'PUT', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({report: {interval_s: 60}})})).status""")
    assert status == 403
    assert state.config.line_crossing.report.interval_s != 60


def test_settings_validation_and_export_import(sensor, page, tmp_path) -> None:
    state, base = sensor
    activate(page, base)
    page.goto(f"{base}/settings")
    field = 'input[name="line_crossing.report.interval_s"]'
    page.fill(field, "3")  # under the model's minimum of 5: the browser refuses to send it
    page.locator("form.section", has=page.locator("h2#line_crossing")).locator(
        "button[type=submit]").click()
    assert page.eval_on_selector(field, "e => e.validity.rangeUnderflow")
    page.fill('[name="people_flow.area"]', "[[0, 0], [1, 1]]")  # the server refuses this
    page.locator("form.section", has=page.locator("h2#people_flow")).locator(
        "button[type=submit]").click()
    expect(page.locator(".error")).to_contain_text("triangle or a quadrangle")
    page.fill(field, "60")
    page.uncheck('input[type=checkbox][name="line_crossing.report.trigger_enabled"]')
    page.locator("form.section", has=page.locator("h2#line_crossing")).locator(
        "button[type=submit]").click()
    expect(page.locator(".ok")).to_contain_text("Line crossing saved")
    assert state.config.line_crossing.report.interval_s == 60
    assert state.config.line_crossing.report.trigger_enabled is False
    assert state.config.line_crossing.line.points  # untouched fields keep their values
    page.select_option('select[name="general.recognition_scheme"]', "algorithm_1")
    page.locator("form.section", has=page.locator("h2#general")).locator(
        "button[type=submit]").click()
    expect(page.locator(".ok")).to_contain_text("General saved")
    assert state.config.general.recognition_scheme.value == "algorithm_1"
    page.goto(f"{base}/settings?json=true")
    form = page.locator("form.section", has=page.locator("h2#people_flow"))
    text = form.locator("textarea").input_value()
    form.locator("textarea").fill(text.replace('"enabled": true', '"enabled": false', 1))
    form.locator("button").click()
    expect(page.locator(".ok")).to_contain_text("People flow saved")
    assert state.config.people_flow.enabled is False
    page.goto(f"{base}/maintenance")
    with page.expect_download() as download:
        page.click("text=Download")
    exported = tmp_path / "export.yaml"
    download.value.save_as(exported)
    assert "password_hash" not in exported.read_text()
    edited = yaml.safe_load(exported.read_text())
    edited["line_crossing"]["report"]["interval_s"] = 90
    exported.write_text(yaml.safe_dump(edited))
    page.set_input_files("input[type=file]", str(exported))
    page.click("button:has-text('Import')")
    expect(page.locator(".ok")).to_contain_text("imported")
    assert state.config.line_crossing.report.interval_s == 90
    page.screenshot(path=str(tmp_path / "maintenance.png"))


def wait_for_picture(page: Page) -> None:
    page.wait_for_function("() => document.getElementById('picture').naturalWidth > 0",
                           timeout=20000)


def open_draw(page: Page, base: str, tool: str) -> None:
    """The Draw page, its picture loaded, ``tool`` picked."""
    page.goto(f"{base}/draw")
    wait_for_picture(page)
    page.select_option("#tool", tool)


def open_draw_without_line(page: Page, base: str) -> None:
    """The Draw page with the example's line removed and the line tool picked."""
    open_draw(page, base, "line")
    expect(page.locator("#shapes polyline[data-kind=line]")).to_have_count(1)
    page.click("#clear")


def click_at(page: Page, fx: float, fy: float, button: str = "left") -> None:
    box = page.locator("#shapes").bounding_box()
    page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"], button=button)


def test_draw_a_line_and_a_region_then_see_counts_rise(sensor, page) -> None:
    state, base = sensor
    activate(page, base)
    open_draw_without_line(page, base)  # then draw one top to bottom
    for fy in (0.2, 0.85):
        click_at(page, 0.45, fy)
    click_at(page, 0.45, 0.85, "right")
    page.select_option("#tool", "region")
    for fx, fy in ((0.6, 0.35), (0.95, 0.35), (0.95, 0.7), (0.6, 0.6)):
        click_at(page, fx, fy)
    click_at(page, 0.6, 0.6, "right")
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    line = state.config.line_crossing.line.points
    assert len(line) == 2 and abs(line[0][0] - 0.45) < 0.01 and line[0][1] < line[1][1]
    assert len(state.config.region_counting.regions) == 3
    page.goto(f"{base}/live")
    expect(page.locator("dd[data-count=in]")).to_be_visible(timeout=20000)

    def crossings() -> int:
        return int(page.locator("dd[data-count=in]").inner_text()) + int(
            page.locator("dd[data-count=out]").inner_text())

    for _ in range(120):  # people cross the walkway within seconds on the sample
        if crossings() > 0:
            break
        page.wait_for_timeout(250)
    assert crossings() > 0


def test_drawing_limits_are_enforced(sensor, page) -> None:
    _state, base = sensor
    activate(page, base)
    open_draw_without_line(page, base)
    for i in range(6):
        click_at(page, 0.1 + 0.1 * i, 0.1 + 0.05 * (i % 2))
    expect(page.locator("#message")).to_contain_text("at most 4 segments")
    click_at(page, 0.5, 0.5, "right")
    # a concave flow area is drawn but refused by the server with the reason
    page.select_option("#tool", "flow")
    page.click("#clear")
    for fx, fy in ((0.1, 0.62), (0.5, 0.62), (0.2, 0.72), (0.1, 0.95)):
        click_at(page, fx, fy)
    click_at(page, 0.1, 0.95, "right")
    expect(page.locator("#message")).to_contain_text("flow drawn")
    page.click("#save")
    expect(page.locator("#message")).to_contain_text("convex")


def test_settings_tools_copy_a_schedule(sensor, page) -> None:
    state, base = sensor
    activate(page, base)
    monday = {"enabled": True, "periods": [{"start": "08:00", "end": "18:00"},
                                           {"start": "00:00", "end": "00:00"},
                                           {"start": "00:00", "end": "00:00"}]}
    state.edit("region_counting", {"schedule": {"monday": monday}})
    page.goto(f"{base}/schedule")
    page.select_option("#schedule-feature", "region")
    page.select_option("#schedule-day", "monday")
    page.click("#schedule-copy")
    expect(page.locator("#schedule-result")).to_contain_text("done")
    page.wait_for_timeout(500)
    assert state.config.region_counting.schedule.sunday.periods[0].end == "18:00"
    page.goto(f"{base}/settings")
    page.click("#test-connection")
    expect(page.locator("#test-results li")).to_contain_text("no MQTT or HTTP recipient")


# -- issue 18: the drawing editor keeps work and edits shapes -------------------
def test_a_half_drawn_shape_does_not_carry_over_and_escape_and_undo_work(sensor, page) -> None:
    state, base = sensor
    activate(page, base)
    open_draw(page, base, "region")
    assert "shapes=false" in page.locator("#picture").get_attribute("src")  # no shapes burned in
    click_at(page, 0.1, 0.1)
    click_at(page, 0.2, 0.1)
    page.select_option("#tool", "mask")  # the two region points are dropped
    expect(page.locator("#message")).to_have_text("the half-drawn shape was dropped")
    for fx, fy in ((0.05, 0.8), (0.2, 0.8), (0.2, 0.95), (0.05, 0.95), (0.1, 0.9)):
        click_at(page, fx, fy)
    page.keyboard.press("Control+z")  # takes back the fifth corner
    click_at(page, 0.05, 0.95, "right")
    page.select_option("#tool", "region")
    click_at(page, 0.4, 0.4)
    page.keyboard.press("Escape")
    expect(page.locator("#message")).to_have_text("drawing cancelled")
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    [mask] = state.config.privacy_masks.masks
    assert len(mask.points) == 4
    assert len(state.config.region_counting.regions) == 2


def test_regions_are_named_and_their_corners_dragged(sensor, page) -> None:
    state, base = sensor
    activate(page, base)
    open_draw(page, base, "region")
    # the drawing layer covers the picture exactly (it overhung its bottom by a few px)
    layer, picture = page.locator("#shapes").bounding_box(), page.locator("#picture").bounding_box()
    assert abs(layer["height"] - picture["height"]) < 1 and abs(layer["y"] - picture["y"]) < 1
    for fx, fy in ((0.1, 0.7), (0.3, 0.7), (0.3, 0.9), (0.1, 0.9)):
        click_at(page, fx, fy)
    click_at(page, 0.1, 0.9, "right")
    expect(page.locator("#name")).to_be_focused()
    page.fill("#name", "reception desk")
    # select it by clicking inside, drag its first corner up and left
    click_at(page, 0.2, 0.8)
    handle = page.locator("#shapes .handle").first
    start = handle.bounding_box()
    box = page.locator("#shapes").bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 0.05 * box["width"], box["y"] + 0.6 * box["height"], steps=5)
    page.mouse.up()
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    region = state.config.region_counting.regions[-1]
    assert region.name == "reception desk"
    assert abs(region.points[0][0] - 0.05) < 0.01 and abs(region.points[0][1] - 0.6) < 0.01
    page.goto(f"{base}/live")
    expect(page.locator("dt", has_text="reception desk")).to_be_visible(timeout=20000)


def test_leaving_draw_with_unsaved_changes_asks_first(sensor, page) -> None:
    _state, base = sensor
    activate(page, base)
    open_draw_without_line(page, base)
    asked: list[str] = []

    def answer(dialog) -> None:
        asked.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", answer)
    page.click("header >> text=Live")
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"]
    expect(page).to_have_url(f"{base}/draw")  # stayed: the change is not lost
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    page.click("header >> text=Live")
    expect(page).to_have_url(f"{base}/live")
    assert asked == ["beforeunload"]


def test_settings_read_as_words_keep_secrets_and_stay_where_saved(sensor, page) -> None:
    state, base = sensor
    state.edit("line_crossing", {"report": {"mqtt": {"host": "broker", "password": "s3cret"}}})
    activate(page, base)
    page.goto(f"{base}/settings")
    section = page.locator("form.section", has=page.locator("h2#line_crossing"))
    expect(page.locator("h2#line_crossing")).to_have_text("Line crossing")
    expect(section.locator("label", has_text="Interval (s)").first).to_be_visible()
    region = page.locator("form.section", has=page.locator("h2#region_counting"))
    options = region.locator('select[name="region_counting.report.result_mode"] option')
    assert "zero / non-zero changes" in options.all_inner_texts()
    secret = section.locator('input[name="line_crossing.report.mqtt.password"]')
    assert secret.input_value() == ""  # no dots pretending to be a password
    assert secret.get_attribute("placeholder").startswith("set:")
    empty = section.locator('input[name="line_crossing.report.mqtt.client_id"]')
    assert empty.input_value() == ""
    page.fill('input[name="line_crossing.report.interval_s"]', "45")
    section.locator("button[type=submit]").click()
    expect(page.locator(".ok")).to_contain_text("Line crossing saved and applied")
    assert page.url.endswith("#line_crossing")  # back at the section, not the top
    assert state.config.line_crossing.report.interval_s == 45
    assert state.config.line_crossing.report.mqtt.password.get_secret_value() == "s3cret"


def test_the_weekly_schedule_grid(sensor, page) -> None:
    state, base = sensor
    activate(page, base)
    page.click("header >> text=Schedule")
    grid = page.locator("form.schedule", has=page.locator("h2#line_crossing"))
    expect(grid.locator("tbody tr")).to_have_count(7)
    grid.get_by_label("saturday on").uncheck()
    grid.get_by_label("monday period 1 start").fill("08:00")
    grid.get_by_label("monday period 1 end").fill("12:00")
    grid.get_by_label("monday period 2 start").fill("13:00")
    grid.get_by_label("monday period 2 end").fill("18:00")
    grid.get_by_role("button").click()
    expect(page.locator(".ok")).to_contain_text("Line crossing saved and applied")
    assert "/schedule?" in page.url and page.url.endswith("#line_crossing")
    week = state.config.line_crossing.schedule
    assert week.saturday.enabled is False and week.sunday.enabled is True
    assert [(p.start, p.end) for p in week.monday.periods] == [
        ("08:00", "12:00"), ("13:00", "18:00"), ("00:00", "00:00")]
    assert state.config.line_crossing.line.points  # the rest of the section is untouched
    # overlapping periods are refused with the reason, on the same page
    grid = page.locator("form.schedule", has=page.locator("h2#line_crossing"))
    grid.get_by_label("monday period 2 start").fill("11:00")
    grid.get_by_role("button").click()
    expect(page.locator(".error")).to_contain_text("periods of a day overlap")
    expect(page.locator("h1")).to_have_text("Schedule")
