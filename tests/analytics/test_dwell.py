"""R6 dwell time: min dwell, debounce, period max/avg, trigger records."""

from __future__ import annotations

import numpy as np
import pytest

from occusense.analytics.dwell import DwellTimer

NOBODY = (np.zeros(0, dtype=int), np.zeros((0, 2), dtype=bool))


def feed(timer: DwellTimer, seconds: range, pid: int = 1, region: int = 0, regions: int = 2):
    inside = np.zeros((1, regions), dtype=bool)
    inside[0, region] = True
    out = []
    for t in seconds:
        out += timer.update(float(t), np.array([pid]), inside)
    return out


@pytest.mark.parametrize(("stay_s", "min_dwell", "dwells"), [(5, 2, 1), (1, 2, 0), (2, 2, 1)])
def test_min_dwell_filters_short_visits(stay_s, min_dwell, dwells) -> None:
    timer = DwellTimer(regions=2, min_dwell_s=min_dwell, debounce_s=1.0)
    feed(timer, range(stay_s + 1))
    done = timer.update(stay_s + 2.0, *NOBODY)
    assert len(done) == dwells


def test_dwell_record_has_region_person_and_times() -> None:
    timer = DwellTimer(regions=2, min_dwell_s=2, debounce_s=1.0)
    feed(timer, range(100, 111), pid=9, region=1)
    [record] = timer.update(112.5, *NOBODY)
    assert (record.region, record.person_id, record.start, record.end) == (2, 9, 100.0, 110.0)
    assert record.duration_ms == 10_000


def test_short_absence_within_debounce_keeps_one_stay() -> None:
    timer = DwellTimer(regions=1, min_dwell_s=2, debounce_s=2.0)
    feed(timer, range(0, 5), regions=1)
    assert timer.update(6.0, *NOBODY) == []  # unseen 2 s: still the same stay
    feed(timer, range(6, 10), regions=1)
    [record] = timer.update(13.0, *NOBODY)
    assert record.end - record.start == 9.0


def test_period_max_and_average_include_ongoing_stays() -> None:
    timer = DwellTimer(regions=1, min_dwell_s=2, debounce_s=0.5)
    feed(timer, range(0, 5), pid=1, regions=1)  # 4 s
    timer.update(6.0, *NOBODY)
    feed(timer, range(10, 21), pid=2, regions=1)  # 10 s, still inside
    rows = timer.take_period(21.0)
    assert rows == [(1, 10.0, 7.0)]
    assert timer.take_period(22.0) == [(1, 10.0, 10.0)]  # only the ongoing one


def test_reset_restarts_open_stays() -> None:
    timer = DwellTimer(regions=1, min_dwell_s=2, debounce_s=0.5)
    feed(timer, range(0, 10), regions=1)
    timer.reset_stats(5.0)
    [record] = timer.end_all()
    assert record.start == 5.0
