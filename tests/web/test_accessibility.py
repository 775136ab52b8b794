"""Issue 28 (14): axe-core (from npm, tests/js) finds no accessibility
violation on any page of the GUI, a sensor's and a site's. axe is evaluated
in the page through the browser's debugging protocol, which the pages'
Content-Security-Policy (scripts from the sensor only) allows: nothing is
injected into the page's own HTML and the policy is not bypassed."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

from tests.web.test_browser import activate, browser, wait_for_picture  # noqa: F401 - fixtures

AXE = Path(__file__).resolve().parents[1] / "js" / "node_modules" / "axe-core" / "axe.min.js"
SENSOR_PAGES = ("/live", "/history", "/heatmap", "/region", "/line", "/flow", "/recipients",
                "/schedule",
                "/system", "/maintenance", "/about", "/settings", "/draw")


def violations(page: Page) -> list[str]:
    """axe's WCAG 2 A/AA violations on the page, one line each."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']});
        return result.violations.map(v => `${v.id}: ${v.help} (${v.nodes.length}): ` +
            v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
    }""")
    return list(found)


def test_no_page_of_a_sensor_has_an_accessibility_violation(sensor, browser):  # noqa: F811
    _state, base = sensor
    page = browser.new_context(viewport={"width": 1280, "height": 1000}).new_page()
    for path in ("/activate",):
        page.goto(f"{base}{path}")
        assert violations(page) == [], path
    activate(page, base)
    problems = {}
    for path in SENSOR_PAGES:
        page.goto(f"{base}{path}")
        page.wait_for_timeout(800)  # the page's own script has filled it in
        if found := violations(page):
            problems[path] = found
    page.goto(f"{base}/no-such-page")
    if found := violations(page):
        problems["404"] = found
    visitor = browser.new_context().new_page()  # not logged in
    for path in ("/login", "/forgot"):
        visitor.goto(f"{base}{path}")
        if found := violations(visitor):
            problems[path] = found
    visitor.context.close()
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())
    page.context.close()
