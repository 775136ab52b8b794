"""People flow (F1, F2): entry and exit edges of a triangle or quadrangle."""

from __future__ import annotations

import numpy as np
import pytest

from occusense.analytics.flow import FlowCounter

SQUARE = [(0.0, 0.0), (100.0, 0.0), (100.0, 100.0), (0.0, 100.0)]  # edges A top, B right...


def run(counter: FlowCounter, path: list[tuple[float, float]], pid: int = 1) -> list:
    done = []
    for point in path:
        done += counter.update(np.array([pid]), np.array([point]))
    return done + counter.end([pid])


@pytest.mark.parametrize(
    ("path", "entry", "exit"),
    [
        ([(50, -10), (50, 50), (50, 110)], "A", "C"),  # top to bottom
        ([(-10, 50), (50, 50), (110, 50)], "D", "B"),
        ([(110, 50), (50, 50), (110, 60)], "B", "B"),  # came back out the same side
        ([(50, -10), (50, 40), (-10, 50)], "A", "D"),
    ],
)
def test_entry_and_exit_edges(path, entry, exit) -> None:
    assert run(FlowCounter(SQUARE, "ABCD"), path) == [(1, entry, exit)]


def test_custom_edge_names_and_matrix() -> None:
    counter = FlowCounter(SQUARE, ["N", "E", "S", "W"])
    run(counter, [(50, -10), (50, 50), (50, 110)])
    matrix = counter.take_period()
    assert len(matrix) == 16 and matrix["N-S"] == 1 and sum(matrix.values()) == 1
    assert sum(counter.take_period().values()) == 0


def test_triangle_has_three_edges() -> None:
    counter = FlowCounter([(0.0, 0.0), (100.0, 0.0), (50.0, 100.0)], "ABCD")
    assert len(counter.take_period()) == 9
    assert run(counter, [(50, -10), (50, 20), (120, 60)]) == [(1, "A", "B")]


def test_person_first_seen_inside_enters_by_nearest_edge() -> None:
    assert run(FlowCounter(SQUARE, "ABCD"), [(95, 50), (50, 50), (50, 110)]) == [(1, "B", "C")]


def test_person_never_inside_counts_nothing() -> None:
    assert run(FlowCounter(SQUARE, "ABCD"), [(-10, -10), (110, -10)]) == []
