"""Issue 18's done-when: a new user activates, draws two named regions and a
line on the guide's pages, sends region reports to a real MQTT broker, sets a
schedule, watches the counts on the chart and logs out, in Debian's Chromium."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from tests.transports.conftest import Subscriber, broker, ca  # noqa: F401 (fixtures)
from tests.web.test_browser import activate, browser, click_at, page, wait_for_picture  # noqa: F401


def draw_region(screen, name: str, corners) -> None:
    screen.select_option("#tool", "region")
    for fx, fy in corners:
        click_at(screen, fx, fy)
    click_at(screen, *corners[-1], "right")
    screen.fill("#name", name)


def test_a_new_user_sets_up_a_sensor_without_the_readme(sensor, page, broker) -> None:  # noqa: F811
    state, base = sensor
    activate(page, base)
    page.click("header >> text=Regions")
    expect(page.locator("h1")).to_have_text("Region people counting")
    wait_for_picture(page)
    assert page.locator("#tool option").all_inner_texts() == ["Select and edit",
                                                              "Region (up to 16)"]
    page.select_option("#tool", "region")
    page.click("#clear")
    draw_region(page, "window desks", ((0.1, 0.4), (0.45, 0.4), (0.45, 0.8), (0.1, 0.8)))
    draw_region(page, "corridor", ((0.55, 0.3), (0.95, 0.3), (0.95, 0.8), (0.55, 0.8)))
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    assert [r.name for r in state.config.region_counting.regions] == ["window desks", "corridor"]

    page.click("header >> text=Line")
    wait_for_picture(page)
    page.select_option("#tool", "line")
    page.click("#clear")
    click_at(page, 0.5, 0.15)
    click_at(page, 0.5, 0.9)
    click_at(page, 0.5, 0.9, "right")
    page.click("#save")
    expect(page.locator("#message")).to_have_text("saved and applied")
    assert state.config.line_crossing.line.points[0][0] == 0.5

    page.click("header >> text=Recipients")
    form = page.locator("form.section", has=page.locator("h2#region_counting"))
    form.locator('select[name="region_counting.report.protocol"]').select_option("mqtt")
    form.locator('input[name="region_counting.report.mqtt.host"]').fill("127.0.0.1")
    form.locator('input[name="region_counting.report.mqtt.port"]').fill(str(broker.port))
    form.locator('input[name="region_counting.report.interval_s"]').fill("5")
    subscriber = Subscriber(broker.port, "occusense/reports")
    form.get_by_role("button").click()
    expect(page.locator(".ok")).to_contain_text("Region counting saved and applied")
    page.click("#test-connection")
    expect(page.locator("#test-results li").first).to_contain_text(
        "reached, a test report was accepted")
    expect(page.locator("main > p.ok")).to_be_hidden()  # the earlier "saved" is not this result

    page.click("header >> text=Schedule")
    grid = page.locator("form.schedule", has=page.locator("h2#region_counting"))
    grid.get_by_label("sunday on").uncheck()
    grid.get_by_role("button").click()
    expect(page.locator(".ok")).to_contain_text("saved and applied")
    assert state.config.region_counting.schedule.sunday.enabled is False

    page.click("header >> text=Live")
    expect(page.locator("#legend li", has_text="window desks")).to_be_visible(timeout=40000)
    expect(page.locator("#legend li", has_text="corridor")).to_be_visible()
    deadline = time.monotonic() + 30
    while not any(m.get("event") for m in subscriber.messages):
        assert time.monotonic() < deadline, "no region report reached the broker"
        time.sleep(0.2)
    subscriber.close()
    page.click("text=Log out")
    expect(page).to_have_url(f"{base}/login")
