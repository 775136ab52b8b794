"""Issue 29: heatmaps of where people were, per hour, as a coarse grid: the
replayed walkway is lit where the ground-truth people walked, the grass
stays dark; hours survive a restart; the API answers JSON and PNG."""

from __future__ import annotations

import threading

import cv2
import numpy as np
from playwright.sync_api import expect

from occusense.config import load_config
from occusense.evaluation.mot import load_mot
from occusense.heatmap import COLUMNS, HOUR, ROWS, Heatmap, to_png
from occusense.runner import SensorRunner
from occusense.sources import open_source
from occusense.web.state import SensorState
from tests.conftest import REPO, SAMPLE_VIDEO
from tests.web.conftest import sensor  # noqa: F401 - fixture
from tests.web.test_browser import browser  # noqa: F401 - fixture

SHARED = REPO.parent / "shared" / "data" / "PETS09-S2L1"
START = 1_767_225_600.0  # 2026-01-01 00:00 UTC: the replay's clock
FRAMES = 400


def test_person_seconds_by_cell_and_hour_survive_a_restart(tmp_path):
    heat = Heatmap(tmp_path)
    one = np.array([[5.0, 5.0]])  # the top-left cell (10x10 px) of a 320x240 frame
    for i in range(11):  # 10 gaps of 0.5 s
        heat.add(START + 0.5 * i, one, 320, 240)
    heat.add(START + 60.0, one, 320, 240)  # after a 54.5 s outage: no presence added
    heat.add(START + HOUR + 1, np.array([[310.0, 230.0]]), 320, 240)  # the next hour
    heat.add(START + HOUR + 2, np.array([[310.0, 230.0]]), 320, 240)
    heat.close()
    again = Heatmap(tmp_path)
    first = again.grid(START, START + HOUR)
    assert first[0, 0] == 5.0 and first.sum() == 5.0
    both = again.grid(START, START + 2 * HOUR)
    assert both[ROWS - 1, COLUMNS - 1] == 1.0 and both.sum() == 6.0
    png = to_png(both, 320, 240)
    picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    assert picture.shape == (240, 320, 4)
    assert picture[5, 5, 3] > 100 and picture[120, 160, 3] == 0  # opaque only where people were


def ground_truth_grid(frames: int) -> np.ndarray:
    """Person-seconds per cell from the ground truth's feet, 10 frames/s."""
    truth = load_mot(SHARED / "gt" / "gt.txt")
    grid = np.zeros((ROWS, COLUMNS))
    for frame in range(2, frames + 1):
        _ids, boxes = truth.at(frame)
        for x1, _y1, x2, y2 in boxes:
            col = min(COLUMNS - 1, max(0, int((x1 + x2) / 2 / 768 * COLUMNS)))
            row = min(ROWS - 1, max(0, int(y2 / 576 * ROWS)))
            grid[row, col] += 0.1
    return grid


def test_the_replayed_walkway_is_lit_where_the_people_walked(tmp_path):
    config = load_config(REPO / "examples" / "vtest.yaml")
    config.state_dir = str(tmp_path / "state")
    config.output.jsonl_path = ""
    config.detector.scene = "walkway"  # type: ignore[assignment]
    state = SensorState(config)
    runner = SensorRunner(state, open_source(str(SAMPLE_VIDEO), START), START, [])
    thread = threading.Thread(target=runner.run, kwargs={"max_frames": FRAMES})
    thread.start()
    thread.join(timeout=600)
    seen = Heatmap(tmp_path / "state").grid(START, START + HOUR)
    truth = ground_truth_grid(FRAMES)
    assert abs(seen.sum() - truth.sum()) < 0.3 * truth.sum()  # about as many person-seconds
    # where: the same places warm, on cells of 2x2 (a person's feet straddle cells)
    coarse = lambda grid: grid.reshape(ROWS // 2, 2, COLUMNS // 2, 2).sum(axis=(1, 3))  # noqa: E731
    correlation = np.corrcoef(coarse(seen).ravel(), coarse(truth).ravel())[0, 1]
    walked = cv2.dilate((truth > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    grass = seen[~walked].sum() / seen.sum()  # the grass and the buildings nobody crossed
    # measured: 254 person-seconds seen against 222 true, correlation 0.79, 3% off the paths
    assert correlation > 0.7, correlation
    assert grass < 0.08, grass


def test_the_heatmap_page_and_api_show_where_people_were(sensor, browser):  # noqa: F811
    """The Heatmap page lays the period's grid over the live picture; the API
    answers the grid as JSON and as a PNG."""
    import httpx

    from tests.transports.conftest import wait_for
    from tests.web.test_screens import desktop

    state, base = sensor
    assert wait_for(lambda: state.heatmap is not None and state.run.frames > 30, timeout=60)
    page = desktop(browser, base, "/heatmap")
    expect(page.locator("#heatmap-summary")).to_contain_text("person-hours in view",
                                                             timeout=20000)
    size = page.evaluate("""() => new Promise(done => {
        const img = document.getElementById('heatmap-overlay');
        const check = () => img.naturalWidth ? done([img.naturalWidth, img.naturalHeight])
                                             : setTimeout(check, 100);
        check(); })""")
    assert size == [768, 576]  # the camera's frame
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    grid = httpx.get(f"{base}/api/heatmap", cookies=cookies, timeout=30).json()
    assert (grid["columns"], grid["rows"], grid["unit"]) == (COLUMNS, ROWS, "person-seconds")
    assert grid["total"] > 0 and len(grid["cells"]) == ROWS
    bad = httpx.get(f"{base}/api/heatmap?from=2026-01-02&to=2026-01-01", cookies=cookies)
    assert bad.status_code == 400
    page.context.close()
