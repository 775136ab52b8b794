"""Compile the counting kernels before a sensor needs them.

Driven through the counters themselves (so every specialisation a sensor
uses is compiled), which is why it lives here and not in ``kernels``: the
counters import the kernels, and the kernels must not import the counters.
"""

from __future__ import annotations

import numpy as np

from occusense.analytics.dwell import DwellTimer
from occusense.analytics.geometry import DirectedPolyline, PolygonZone, anchors_and_heights
from occusense.analytics.line import LineCounter
from occusense.analytics.regions import RegionCounter


def warm_up() -> None:
    """Compile (or load from the on-disk cache) every kernel now.

    The first compile takes seconds to tens of seconds on the 2-core target;
    the installer calls this so that a sensor's first frames do not wait
    for it (later starts load the cache in under a second).
    """
    square = PolygonZone([(0, 0), (10, 0), (10, 10), (0, 10)])
    ids = np.array([1, 2], dtype=np.int64)
    for boxes in (np.zeros((2, 4), np.float32), np.zeros((2, 4))):
        points, heights = anchors_and_heights(boxes, False)
    for zones, mapped in (([square], True), ([square], False), ([], True)):
        regions = RegionCounter(zones, mapped)
        regions.update(0.0, ids, points)
        regions.update(1.0, ids, points, regions.membership(points))
        DwellTimer(regions.columns, 1.0, 1.0).update(0.0, ids, regions.inside)
    for area in (None, square):
        line = LineCounter(DirectedPolyline([(0, 5), (10, 5)]), uturn_area=area)
        line.update(0.0, ids, points, heights)
        line.end(1.0, ids.tolist())
    DwellTimer(1, 1.0, 1.0).end_all()
    DirectedPolyline([(0, 5), (10, 5)]).crossings(points, points)
    DirectedPolyline([(0, 5), (10, 5)]).nearest_segment(points[0])
    square.contains(points)
