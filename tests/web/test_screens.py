"""Issue 28: the GUI on a phone and with the keyboard, and a Live page that
says when the sensor cannot be reached (Debian's Chromium via Playwright)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.web.test_browser import activate, browser, wait_for_picture  # noqa: F401 - fixtures

PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True,
         "device_scale_factor": 3}


def phone_page(browser):  # noqa: F811
    return browser.new_context(**PHONE).new_page()


def desktop(browser, base: str, path: str = "", picture: bool = False) -> Page:  # noqa: F811
    """An activated sensor's GUI on a 1280 px screen, at ``path``."""
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    activate(page, base)
    if path:
        page.goto(f"{base}{path}")
    if picture:
        wait_for_picture(page)
    return page


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
    page = desktop(browser, base, "/draw", picture=True)
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
    page = desktop(browser, base, "/region", picture=True)
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


def test_recipients_are_set_once_and_shared_by_the_other_features(sensor, browser):  # noqa: F811
    """Issue 28 (4): one set of recipients, used by every feature that says
    "same as"; the feature pages name them instead of repeating the forms."""
    state, base = sensor
    page = desktop(browser, base, "/region")
    assert page.locator('input[name="region_counting.report.mqtt.host"]').count() == 0
    height_before = page.evaluate("() => document.documentElement.scrollHeight")
    assert height_before < 2400, height_before  # was 3,088 px with three recipient blocks
    page.goto(f"{base}/recipients")
    line = page.locator("form", has=page.locator("h2#line_crossing"))
    line.locator('select[name="line_crossing.report.protocol"]').select_option("mqtt")
    line.locator('input[name="line_crossing.report.mqtt.host"]').fill("broker.example")
    line.locator("button[type=submit]").click()
    region = page.locator("form", has=page.locator("h2#region_counting"))
    same_as = region.locator('select[name="region_counting.report.same_as"]')
    expect(region.locator('input[name="region_counting.report.mqtt.host"]')).to_be_visible()
    same_as.select_option("line_crossing")
    expect(region.locator('input[name="region_counting.report.mqtt.host"]')).to_be_hidden()
    expect(region.locator('[data-field="http"]').first).to_be_hidden()
    region.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert state.config.region_counting.report.same_as.value == "line_crossing"
    assert state.config.recipients_of("region_counting").mqtt.host == "broker.example"
    page.goto(f"{base}/region")
    expect(page.locator("#recipients-summary")).to_have_text(
        "MQTT broker.example:1883, topic occusense/reports (the recipients of line crossing)")
    page.context.close()


def test_the_live_page_says_what_its_counts_mean(sensor, browser):  # noqa: F811
    """Issue 28 (5): people in the regions (not in view), in/out since when,
    a feature paused by its schedule, and the flow counts."""
    state, base = sensor
    page = desktop(browser, base)
    expect(page.locator("dd[data-count=people]")).to_be_visible(timeout=20000)
    people = page.locator("dd[data-count=people]").locator("xpath=preceding-sibling::dt[1]")
    expect(people).to_have_text("People in the regions")
    inward = page.locator("dd[data-count=in]").locator("xpath=preceding-sibling::dt[1]")
    expect(inward).to_contain_text("In since ")
    expect(inward).to_contain_text("(never reset)")
    expect(page.locator("#flow")).to_be_visible()
    expect(page.locator("#flow-counts td[data-flow]")).to_have_count(16)  # 4 x 4 edges
    expect(page.locator("#paused")).to_be_hidden()
    off = {"enabled": False, "periods": [{"start": "00:00", "end": "00:00"}] * 3}
    state.edit("line_crossing", {"schedule": {day: off for day in (
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")}})
    expect(page.locator("#paused")).to_have_text(
        "Line crossing: paused outside its schedule (the figures hold until it resumes).",
        timeout=20000)
    status = page.request.get(f"{base}/api/status").json()
    assert status["paused"] == ["line"]
    assert status["labels"]["people"] == "People in the regions"
    assert status["people_in_view"] == status["people"]
    page.context.close()


PAGES = ("/live", "/history", "/heatmap", "/region", "/line", "/flow", "/recipients", "/schedule",
         "/system", "/maintenance", "/about", "/settings", "/draw")


def too_wide(page: Page) -> list[str]:
    """The elements that reach past the screen's right edge."""
    return page.evaluate("""() => {
        const width = document.documentElement.clientWidth, out = [];
        for (const el of document.querySelectorAll('body *')) {
            const box = el.getBoundingClientRect();
            if (box.width && box.right > width + 1 && !el.closest('[hidden], nav, table'))
                out.push(`${el.tagName}#${el.id}.${el.className} ${Math.round(box.right)}`);
        }
        return out.slice(0, 8);
    }""")


def test_every_page_fits_a_phone_and_the_menu_takes_one_line(sensor, browser):  # noqa: F811
    """Issue 28 (13): no page is wider than a 390 px screen; the menu scrolls
    on one line instead of wrapping onto five."""
    _state, base = sensor
    page = phone_page(browser)
    activate(page, base)
    for path in PAGES:
        page.goto(f"{base}{path}")
        page.wait_for_load_state("networkidle") if path != "/live" else page.wait_for_timeout(1500)
        scroll = page.evaluate("() => document.documentElement.scrollWidth")
        assert scroll <= 390, (path, scroll, too_wide(page))
        header = page.locator("header").bounding_box()
        assert header["height"] < 100, (path, header)
    page.context.close()


def test_a_renamed_region_keeps_its_series_in_the_live_chart(sensor):
    """Issue 28 (7): one series and one legend entry under the new name."""
    from tests.transports.conftest import wait_for

    state, _base = sensor
    assert wait_for(lambda: any("west walkway" in p for p in list(state.history)), timeout=30)
    regions = [dict(r) for r in state.config.model_dump(mode="json")["region_counting"]["regions"]]
    regions[0]["name"] = "reception"
    state.edit("region_counting", {"regions": regions})
    assert wait_for(lambda: "reception" in state.counts, timeout=30)
    points = list(state.history)
    assert not any("west walkway" in p for p in points)
    assert any("reception" in p for p in points)


def test_activation_says_every_problem_at_once_and_keeps_what_was_typed(sensor, browser):  # noqa: F811
    """Issue 28 (9, 10): distinct questions by default, every problem next to
    its field, the answers and the privacy mode kept; a reset password is
    confirmed on the login page."""
    _state, base = sensor
    page = browser.new_context().new_page()
    page.goto(f"{base}/activate")
    chosen = [page.locator(f"select[name=question{i}]").input_value() for i in range(3)]
    assert len(set(chosen)) == 3  # three answers alone are three different questions
    page.fill("input[name=password]", "short")
    page.fill("input[name=confirm]", "different")
    page.check("input[value=blur]")
    for i, answer in enumerate(("Rex", "Paris", "Blue")):
        page.fill(f"input[name=answer{i}]", answer)
    page.click("button[type=submit]")
    expect(page.locator("[role=alert]")).to_contain_text("2 things to correct")
    expect(page.locator(".field-error")).to_have_count(2)
    expect(page.locator("input[name=password]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=answer1]")).to_have_value("Paris")
    expect(page.locator("input[value=blur]")).to_be_checked()
    page.fill("input[name=password]", "Occu2026sense")
    page.fill("input[name=confirm]", "Occu2026sense")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{base}/live")
    page.context.close()
    visitor = browser.new_context().new_page()
    visitor.goto(f"{base}/forgot")
    for i, answer in enumerate(("rex", "paris", "blue")):
        visitor.fill(f"input[name=answer{i}]", answer)
    visitor.fill("input[name=password]", "New2026password")
    visitor.fill("input[name=confirm]", "New2026password")
    visitor.click("button[type=submit]")
    expect(visitor).to_have_url(f"{base}/login?reset=true")
    expect(visitor.locator("[role=status]")).to_have_text(
        "Your password was reset: log in with the new one.")
    visitor.context.close()


def test_a_refused_setting_keeps_what_was_typed_and_is_said_by_its_field(sensor, browser):  # noqa: F811
    """Issue 28 (9): a bad port on Recipients: the protocol and host typed
    stay, the port is marked and the problem said in words next to it."""
    _state, base = sensor
    page = desktop(browser, base, "/recipients")
    line = page.locator("form", has=page.locator("h2#line_crossing"))
    line.locator('select[name="line_crossing.report.protocol"]').select_option("mqtt")
    line.locator('input[name="line_crossing.report.mqtt.host"]').fill("broker.example")
    line.locator('input[name="line_crossing.report.mqtt.port"]').evaluate(
        "el => { el.removeAttribute('max'); el.value = '70000'; }")  # past the browser's check
    line.locator("button[type=submit]").click()
    alert = page.locator("[role=alert]")
    expect(alert).to_contain_text("Line crossing not saved: 1 setting to correct")
    expect(alert).to_contain_text("Port (report, MQTT): must be at most 65535")
    assert "problem(s)" not in alert.inner_text()  # not the developer's wording
    form = page.locator("form", has=page.locator("h2#line_crossing"))
    expect(form.locator('select[name="line_crossing.report.protocol"]')).to_have_value("mqtt")
    expect(form.locator('input[name="line_crossing.report.mqtt.host"]')).to_have_value(
        "broker.example")
    port = form.locator('input[name="line_crossing.report.mqtt.port"]')
    expect(port).to_have_value("70000")
    expect(port).to_have_attribute("aria-invalid", "true")
    expect(form.locator(".field-error")).to_have_text("Port must be at most 65535")
    page.context.close()


def test_schedule_reset_asks_first_and_snapshots_are_named_by_sensor_and_time(sensor, browser):  # noqa: F811
    """Issue 28 (15): Reset (always on) acts only once confirmed; each
    snapshot downloads under its own name."""
    state, base = sensor
    monday = {"enabled": True, "periods": [{"start": "08:00", "end": "18:00"},
                                           {"start": "00:00", "end": "00:00"},
                                           {"start": "00:00", "end": "00:00"}]}
    state.edit("region_counting", {"schedule": {"monday": monday}})
    page = browser.new_context(viewport={"width": 1280, "height": 1000},
                               accept_downloads=True).new_page()
    activate(page, base)
    page.goto(f"{base}/schedule")
    page.select_option("#schedule-feature", "region")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#schedule-reset")
    page.wait_for_timeout(500)
    assert asked and "always on" in asked[0]
    assert state.config.region_counting.schedule.monday.periods[0].end == "18:00"  # kept
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#schedule-reset")
    expect(page.locator("#schedule-result")).to_contain_text("done")
    assert state.config.region_counting.schedule.monday.periods[0].end != "18:00"
    page.goto(f"{base}/live")
    expect(page.locator("dd[data-count=people]")).to_be_visible(timeout=20000)
    with page.expect_download() as download:
        page.click("text=Snapshot")
    name = download.value.suggested_filename
    assert name.startswith("snapshot-Workplace-Sensor-2") and name.endswith(".jpg"), name
    page.context.close()


def test_the_editor_names_each_region_on_the_picture(sensor, browser):  # noqa: F811
    """Issue 28 (8): the drawing shows each region's name at its centre."""
    _state, base = sensor
    page = desktop(browser, base, "/region", picture=True)
    labels = page.locator("#labels span")
    expect(labels).to_have_count(2)
    assert labels.all_inner_texts() == ["west walkway", "east walkway"]
    picture = page.locator("#picture").bounding_box()
    west = labels.first.bounding_box()
    centre_x = west["x"] + west["width"] / 2 - picture["x"]
    assert 0.2 < centre_x / picture["width"] < 0.4  # the west walkway's middle
    page.select_option("#tool", "select")
    layer = page.locator("#shapes").bounding_box()
    x, y = layer["x"] + 0.2 * layer["width"], layer["y"] + 0.42 * layer["height"]
    page.mouse.click(x, y)
    page.fill("#name", "reception")
    expect(labels.first).to_have_text("reception")  # follows the name as it is typed
    page.context.close()


def test_the_system_page_is_grouped_with_the_expert_parts_folded(sensor, browser):  # noqa: F811
    """Issue 28 (11): groups, LoRaWAN / D2D / wired I/O behind "Advanced",
    no two settings of a section with one label, no 'null' or 'None ='."""
    _state, base = sensor
    page = desktop(browser, base, "/system")
    height = page.evaluate("() => document.documentElement.scrollHeight")
    assert height < 4000, height  # was 4,600 px with everything open
    expect(page.locator('input[name="lorawan.dev_eui"]')).to_be_hidden()
    expect(page.locator('input[name="device.name"]')).to_be_visible()
    text = page.locator("main").inner_text()
    assert "null" not in text and "None =" not in text
    names = page.evaluate("""() => [...document.querySelectorAll('form:has(h2#lorawan) label')]
        .map(label => label.firstChild.textContent.trim())""")
    assert len(names) == len(set(names)), names  # "App key" was there twice
    expect(page.locator("form:has(h2#lorawan) button[type=submit]")).to_have_text(
        "Save the LoRaWAN settings")
    page.goto(f"{base}/system#lorawan")  # a link into the folded group opens it
    expect(page.locator('input[name="lorawan.dev_eui"]')).to_be_visible()
    page.context.close()
