"""The counting loops of one frame, compiled with numba.

Why compiled, and why this small piece of geometry is our own: issue 4 asks
for 1,000,000 track-point updates a second for a line plus 16 regions. In
numpy and shapely each frame cost about 30 small array calls whatever the
number of people (~250 µs on the 2-core target), which capped the analytics
at 0.07M updates/s for 20 people (bench/analytics_bench.py). Here each
counter does a frame in one compiled call of a few µs.

What is computed here is only what the counters need, each a textbook
predicate: the side of a directed segment (a cross product), whether two
segments meet (orientation tests, touching counts), the distance from a
point to a segment, and even-odd point-in-polygon. They are plain floating
point, not shapely's robust predicates: a point exactly on an edge may fall
either way, which no camera can tell apart anyway.

Person IDs map to rows of the counters' state arrays through a small
open-addressing hash table (linear probing, backward-shift deletion) kept in
numpy arrays: numba's typed dict costs ~0.2 µs a lookup, 4 µs for 20 people.

Every function takes float64 points and int64 IDs; the Python wrappers
convert, so each kernel is compiled once (and cached on disk).
"""

from __future__ import annotations

import numpy as np
from numba import njit

EMPTY = -1
NO_ROOM = -1  # a counter's answer when its table must grow first
_GOLDEN = np.uint64(11400714819323198485)  # Fibonacci hashing multiplier


# --- person ID -> row ---------------------------------------------------------


@njit(cache=True, inline="always")
def _home(pid, bits):
    return np.int64((np.uint64(pid) * _GOLDEN) >> np.uint64(64 - bits))


@njit(cache=True, inline="always")
def _slot(keys, bits, pid):
    """Where ``pid`` is, or the empty slot where it would go."""
    mask = keys.shape[0] - 1
    slot = _home(pid, bits)
    while keys[slot] != EMPTY and keys[slot] != pid:
        slot = (slot + 1) & mask
    return slot


@njit(cache=True, inline="always")
def table_find(keys, vals, bits, pid):
    """The row of ``pid``, or -1."""
    slot = _slot(keys, bits, pid)
    return vals[slot] if keys[slot] == pid else -1


@njit(cache=True, inline="always")
def table_insert(keys, vals, bits, pid, row):
    slot = _slot(keys, bits, pid)
    keys[slot] = pid
    vals[slot] = row


@njit(cache=True, inline="always")
def table_remove(keys, vals, bits, pid):
    """Remove ``pid``, shifting later entries of its probe run back."""
    mask = keys.shape[0] - 1
    slot = _slot(keys, bits, pid)
    if keys[slot] != pid:
        return
    hole = slot
    while True:
        slot = (slot + 1) & mask
        if keys[slot] == EMPTY:
            break
        home = _home(keys[slot], bits)
        # an entry may move back into the hole unless its home lies
        # cyclically in (hole, slot]
        if hole <= slot:
            stays = hole < home <= slot
        else:
            stays = home > hole or home <= slot
        if not stays:
            keys[hole] = keys[slot]
            vals[hole] = vals[slot]
            hole = slot
    keys[hole] = EMPTY


@njit(cache=True, inline="always")
def table_row(keys, vals, bits, row_ids, free, meta, pid):
    """``(row, new)`` of ``pid``, its row allocated if new; ``meta[0]``
    counts free rows. The caller makes sure a free row exists."""
    row = table_find(keys, vals, bits, pid)
    if row >= 0:
        return row, False
    meta[0] -= 1
    row = free[meta[0]]
    row_ids[row] = pid
    table_insert(keys, vals, bits, pid, row)
    return row, True


@njit(cache=True, inline="always")
def table_release(keys, vals, bits, row_ids, free, meta, row):
    pid = row_ids[row]
    if pid == EMPTY:
        return
    table_remove(keys, vals, bits, pid)
    row_ids[row] = EMPTY
    free[meta[0]] = row
    meta[0] += 1


@njit(cache=True)
def table_rebuild(keys, vals, bits, row_ids):
    keys[:] = EMPTY
    for row in range(row_ids.shape[0]):
        if row_ids[row] != EMPTY:
            table_insert(keys, vals, bits, row_ids[row], row)


# --- geometry -----------------------------------------------------------------


@njit(cache=True, inline="always")
def _cross(ax, ay, bx, by, px, py):
    """> 0 when p is left of a->b in maths axes (right of it on screen)."""
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


@njit(cache=True, inline="always")
def in_polygon(vertices, first, last, x, y):
    """Even-odd test of (x, y) against ``vertices[first:last]``."""
    inside = False
    j = last - 1
    for i in range(first, last):
        xi, yi = vertices[i, 0], vertices[i, 1]
        xj, yj = vertices[j, 0], vertices[j, 1]
        if (yi > y) != (yj > y):
            if x < (xj - xi) * (y - yi) / (yj - yi) + xi:
                inside = not inside
        j = i
    return inside


@njit(cache=True)
def zone_bounds(vertices, starts):
    """Each zone's bounding box (x0, y0, x1, y1): most points of a frame
    are outside most zones, and four comparisons tell."""
    zones = starts.shape[0] - 1
    bounds = np.empty((zones, 4))
    for z in range(zones):
        part = vertices[starts[z] : starts[z + 1]]
        bounds[z, 0], bounds[z, 1] = part[:, 0].min(), part[:, 1].min()
        bounds[z, 2], bounds[z, 3] = part[:, 0].max(), part[:, 1].max()
    return bounds


@njit(cache=True)
def _in_zone(vertices, starts, bounds, z, x, y):
    """``in_polygon`` of zone ``z``, after its bounding box.

    ``polygons_contain`` (every zone for every person) tests the box inline
    instead: a call passing arrays costs reference counting (measured: 30 ns
    a call, 10x the test); here it runs once a person, for the U-turn area.
    """
    if not (bounds[z, 0] <= x <= bounds[z, 2] and bounds[z, 1] <= y <= bounds[z, 3]):
        return False
    return in_polygon(vertices, starts[z], starts[z + 1], x, y)


@njit(cache=True)
def polygons_contain(vertices, starts, bounds, points):
    """``(N, zones)`` booleans; zone ``z`` is ``vertices[starts[z]:starts[z+1]]``."""
    zones = starts.shape[0] - 1
    out = np.zeros((points.shape[0], zones), dtype=np.bool_)
    for n in range(points.shape[0]):
        x, y = points[n, 0], points[n, 1]
        for z in range(zones):
            if bounds[z, 0] <= x <= bounds[z, 2] and bounds[z, 1] <= y <= bounds[z, 3]:
                out[n, z] = in_polygon(vertices, starts[z], starts[z + 1], x, y)
    return out


WHOLE_FRAME, MAPPED, NON_MAPPED = 0, 1, 2


@njit(cache=True)
def area_membership(vertices, starts, bounds, points, mode):
    """``(N, columns)`` booleans of the region counter's areas (R1).

    ``MAPPED``: one column per zone; ``NON_MAPPED``: one column, outside
    every zone; ``WHOLE_FRAME``: one column, everybody.
    """
    if mode == MAPPED:
        return polygons_contain(vertices, starts, bounds, points)
    out = np.ones((points.shape[0], 1), dtype=np.bool_)
    if mode == NON_MAPPED:
        inside_any = polygons_contain(vertices, starts, bounds, points)
        for n in range(points.shape[0]):
            out[n, 0] = not inside_any[n].any()
    return out


@njit(cache=True)
def anchors(boxes, centre):
    """Each person's point (bottom-centre of the box, or its centre) and
    box height, as float64 whatever the boxes' type."""
    points = np.empty((boxes.shape[0], 2))
    heights = np.empty(boxes.shape[0])
    for n in range(boxes.shape[0]):
        x0, y0, x1, y1 = boxes[n, 0], boxes[n, 1], boxes[n, 2], boxes[n, 3]
        points[n, 0] = (x0 + x1) * 0.5
        points[n, 1] = (y0 + y1) * 0.5 if centre else y1
        heights[n] = y1 - y0
    return points, heights


@njit(cache=True, inline="always")
def polyline_distance(line, x, y):
    """Distance from (x, y) to the nearest segment of ``line`` (K, 2)."""
    best = np.inf
    for s in range(line.shape[0] - 1):
        ax, ay = line[s, 0], line[s, 1]
        dx, dy = line[s + 1, 0] - ax, line[s + 1, 1] - ay
        length2 = dx * dx + dy * dy
        t = 0.0
        if length2 > 0.0:
            t = min(1.0, max(0.0, ((x - ax) * dx + (y - ay) * dy) / length2))
        ex, ey = ax + t * dx - x, ay + t * dy - y
        best = min(best, np.sqrt(ex * ex + ey * ey))
    return best


@njit(cache=True)
def polyline_distances(line, points):
    out = np.empty(points.shape[0])
    for n in range(points.shape[0]):
        out[n] = polyline_distance(line, points[n, 0], points[n, 1])
    return out


@njit(cache=True, inline="always")
def _segments_meet(ax, ay, bx, by, cx, cy, dx, dy):
    """Whether segments a-b and c-d share a point (touching counts)."""
    d1 = _cross(cx, cy, dx, dy, ax, ay)
    d2 = _cross(cx, cy, dx, dy, bx, by)
    d3 = _cross(ax, ay, bx, by, cx, cy)
    d4 = _cross(ax, ay, bx, by, dx, dy)
    if ((d1 > 0 and d2 < 0) or (d1 < 0 and d2 > 0)) and (
        (d3 > 0 and d4 < 0) or (d3 < 0 and d4 > 0)
    ):
        return True
    # collinear or touching: an endpoint on the other segment
    return (
        (d1 == 0 and _on_segment(cx, cy, dx, dy, ax, ay))
        or (d2 == 0 and _on_segment(cx, cy, dx, dy, bx, by))
        or (d3 == 0 and _on_segment(ax, ay, bx, by, cx, cy))
        or (d4 == 0 and _on_segment(ax, ay, bx, by, dx, dy))
    )


@njit(cache=True, inline="always")
def _on_segment(ax, ay, bx, by, px, py):
    return min(ax, bx) <= px <= max(ax, bx) and min(ay, by) <= py <= max(ay, by)


@njit(cache=True, inline="always")
def _crosses(line, s, sx, sy, ex, ey):
    """Whether the move s -> e crosses segment ``s`` of ``line``: -1 no,
    1 inward (onto the arrow side), 0 outward.

    A segment counts when the move meets it and changes side of it; a point
    on the segment belongs to the side opposite the arrow, so stepping onto
    the line and off it again counts once, not twice.
    """
    ax, ay, bx, by = line[s, 0], line[s, 1], line[s + 1, 0], line[s + 1, 1]
    was_in = _cross(ax, ay, bx, by, sx, sy) < 0
    now_in = _cross(ax, ay, bx, by, ex, ey) < 0
    if was_in == now_in or not _segments_meet(sx, sy, ex, ey, ax, ay, bx, by):
        return -1
    return 1 if now_in else 0


@njit(cache=True)
def moves_crossings(line, starts, ends, out):
    """Crossings of each move ``starts[i] -> ends[i]`` into ``out`` rows
    (move, segment, inward 0/1); returns how many."""
    found = 0
    for n in range(starts.shape[0]):
        for s in range(line.shape[0] - 1):
            inward = _crosses(line, s, starts[n, 0], starts[n, 1], ends[n, 0], ends[n, 1])
            if inward >= 0:
                out[found, 0], out[found, 1], out[found, 2] = n, s, inward
                found += 1
    return found


# --- counters -----------------------------------------------------------------


@njit(cache=True)
def region_update(table, ts, debounce_s, ids, inside, last_in, counts):
    """Mark who is inside which area now, expire the debounce, count.

    ``last_in[row, column]`` is when the person was last inside; a person is
    counted in a column while that is within ``debounce_s``, unless they are
    seen inside another column now: a person who walks from one region into
    the next leaves the first at once, so the regions' counts add up to the
    people counted (the debounce holds those unseen, or seen outside every
    region). Fills
    ``counts`` per column; returns the people counted at all, or
    ``NO_ROOM`` (nothing changed) when the table may lack rows for them.
    """
    keys, vals, bits, row_ids, free, meta = table
    if meta[0] < ids.shape[0]:
        return NO_ROOM
    columns = inside.shape[1]
    for n in range(ids.shape[0]):
        row = -1
        for c in range(columns):
            if inside[n, c]:
                if row < 0:
                    row, _ = table_row(keys, vals, bits[0], row_ids, free, meta, ids[n])
                last_in[row, c] = ts
        if row >= 0:  # seen in a region now: out of the others at once (no double count)
            for c in range(columns):
                if not inside[n, c]:
                    last_in[row, c] = -np.inf
    counts[:] = 0
    total = 0
    oldest = ts - debounce_s
    for row in range(row_ids.shape[0]):
        if row_ids[row] == EMPTY:
            continue
        present = False
        for c in range(columns):
            if last_in[row, c] >= oldest:
                counts[c] += 1
                present = True
        if present:
            total += 1
        else:
            last_in[row, :] = -np.inf
            table_release(keys, vals, bits[0], row_ids, free, meta, row)
    return total


@njit(cache=True)
def region_frame(
    table, ts, debounce_s, ids, points, vertices, starts, bounds, mode, last_in, counts, inside
):
    """:func:`area_membership` into ``inside[:N]``, then :func:`region_update`."""
    n = points.shape[0]
    if table[5][0] < n or inside.shape[0] < n:
        return NO_ROOM
    inside[:n] = area_membership(vertices, starts, bounds, points, mode)
    return region_update(table, ts, debounce_s, ids, inside[:n], last_in, counts)


@njit(cache=True)
def dwell_update(table, ts, debounce_s, ids, inside, start, last):
    """Start or extend stays; close those unseen for over ``debounce_s``.

    Returns the closed stays as (person, region, start, last inside).
    """
    keys, vals, bits, row_ids, free, meta = table
    for n in range(ids.shape[0]):
        row = -1
        for c in range(inside.shape[1]):
            if inside[n, c]:
                if row < 0:
                    row, _ = table_row(keys, vals, bits[0], row_ids, free, meta, ids[n])
                if last[row, c] == -np.inf:
                    start[row, c] = ts
                last[row, c] = ts
    return _close_stays(table, ts - debounce_s, start, last)


@njit(cache=True)
def _close_stays(table, before, start, last):
    """Close stays last inside before ``before``; release emptied rows."""
    keys, vals, bits, row_ids, free, meta = table
    closed = 0
    for row in range(row_ids.shape[0]):
        if row_ids[row] != EMPTY:
            for c in range(last.shape[1]):
                if last[row, c] != -np.inf and last[row, c] < before:
                    closed += 1
    pids = np.empty(closed, dtype=np.int64)
    regions = np.empty(closed, dtype=np.int64)
    starts = np.empty(closed)
    ends = np.empty(closed)
    k = 0
    for row in range(row_ids.shape[0]):
        if row_ids[row] == EMPTY:
            continue
        open_left = False
        for c in range(last.shape[1]):
            if last[row, c] == -np.inf:
                continue
            if last[row, c] < before:
                pids[k], regions[k] = row_ids[row], c
                starts[k], ends[k] = start[row, c], last[row, c]
                k += 1
                last[row, c] = -np.inf
            else:
                open_left = True
        if not open_left:
            table_release(keys, vals, bits[0], row_ids, free, meta, row)
    return pids, regions, starts, ends


@njit(cache=True)
def dwell_close_all(table, start, last):
    return _close_stays(table, np.inf, start, last)


@njit(cache=True)
def line_update(
    table, state, line, ids, points, heights, margin_ratio, min_margin, uturn, out
):
    """One frame of the line counter (see ``LineCounter``).

    ``state`` columns: anchor x, anchor y, last x, last y, sure (0/1).
    The crossings completed go to ``out`` rows (index into ids, segment,
    inward 0/1), at least people x segments of them; returns how many, or
    ``NO_ROOM`` (nothing changed) when the table may lack rows for them.
    """
    keys, vals, bits, row_ids, free, meta = table
    if meta[0] < ids.shape[0] or out.shape[0] < ids.shape[0] * (line.shape[0] - 1):
        return NO_ROOM
    uturn_vertices, uturn_starts, uturn_bounds = uturn
    n_people = ids.shape[0]
    found = 0
    for n in range(n_people):
        x, y = points[n, 0], points[n, 1]
        distance = polyline_distance(line, x, y)
        far = distance > max(min_margin, margin_ratio * heights[n])
        if far and uturn_starts.shape[0] > 1:
            far = not _in_zone(uturn_vertices, uturn_starts, uturn_bounds, 0, x, y)
        row, new = table_row(keys, vals, bits[0], row_ids, free, meta, ids[n])
        state[row, 2], state[row, 3] = x, y
        if new or (state[row, 4] == 0.0 and distance > min_margin):
            # new, or off the line for the first time: the anchor is here;
            # a side is known once off the line (people first seen on it
            # have no side until they leave it)
            state[row, 0], state[row, 1] = x, y
            state[row, 4] = 1.0 if distance > min_margin else 0.0
        elif far:
            found = _settle(state, line, row, n, out, found)
    return found


@njit(cache=True, inline="always")
def _settle(state, line, row, person, out, found):
    """Count the move anchor -> last of ``row`` into ``out[found:]``; the
    anchor moves on. Returns the new number of rows in ``out``."""
    sx, sy, ex, ey = state[row, 0], state[row, 1], state[row, 2], state[row, 3]
    state[row, 0], state[row, 1] = ex, ey
    for s in range(line.shape[0] - 1):
        inward = _crosses(line, s, sx, sy, ex, ey)
        if inward >= 0:
            out[found, 0], out[found, 1], out[found, 2] = person, s, inward
            found += 1
    return found


@njit(cache=True)
def line_end(table, state, line, pids, out):
    """Tracks ended: count what each left pending; free their rows."""
    keys, vals, bits, row_ids, free, meta = table
    found = 0
    for n in range(pids.shape[0]):
        row = table_find(keys, vals, bits[0], pids[n])
        if row < 0:
            continue
        if state[row, 4] != 0.0:
            found = _settle(state, line, row, n, out, found)
        state[row, 4] = 0.0
        table_release(keys, vals, bits[0], row_ids, free, meta, row)
    return found
