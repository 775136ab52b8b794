"""Issue 20 (first part): Prometheus metrics of a running sensor at /metrics,
read with the client library's own parser, as a scrape would."""

from __future__ import annotations

import time

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.web.test_api import bearer


def scrape(base: str, headers: dict[str, str]) -> dict[tuple[str, tuple], float]:
    answer = httpx.get(f"{base}/metrics", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(answer.text)
            for sample in family.samples}


def test_metrics_show_frames_people_and_crossings(sensor) -> None:
    state, base = sensor
    with httpx.Client(timeout=30) as client:
        auth = bearer(client, state, base)
    assert httpx.get(f"{base}/metrics", timeout=30).status_code == 401  # not for anyone
    deadline = time.monotonic() + 60
    while True:
        values = scrape(base, auth)
        if values[("occusense_frames_total", ())] >= 30:
            break
        assert time.monotonic() < deadline, values
        time.sleep(0.5)
    assert values[("occusense_frame_rate", ())] > 1
    assert values[("occusense_inference_seconds_total", ())] > 0
    assert ("occusense_people", (("region", "west walkway"),)) in values
    assert ("occusense_people", (("region", "all"),)) in values
    assert ("occusense_line_cumulative", (("direction", "in"),)) in values
    deadline = time.monotonic() + 10
    while scrape(base, auth)[("occusense_frames_total", ())] <= values[
            ("occusense_frames_total", ())]:  # the counter goes on rising
        assert time.monotonic() < deadline
        time.sleep(0.2)


def test_a_scrape_token_opens_metrics_and_nothing_else(sensor) -> None:
    state, base = sensor
    state.config.users.activated = True
    state.config.web.metrics_token = SecretStr("scrape-me-2026")
    token = {"Authorization": "Bearer scrape-me-2026"}
    assert ("occusense_frames_total", ()) in scrape(base, token)
    wrong = {"Authorization": "Bearer scrape-me-2027"}
    assert httpx.get(f"{base}/metrics", headers=wrong, timeout=30).status_code == 401
    assert httpx.get(f"{base}/api/status", headers=token, timeout=30).status_code == 401
