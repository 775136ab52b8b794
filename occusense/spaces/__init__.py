"""Spaces of a site: one occupancy for a floor, a shop or a building, from the
lines of several cameras (each door's In adds or takes away) or the people
in chosen regions (a space watched from above).

A space reads its cameras' live counts (the line's cumulative in/out, each
region's people) and never touches their counting: data flows one way.
Line counts turn into entries and exits by their change since the last look
(a reset or a redrawn line starts them again from zero: the new figure is
then the change). The occupancy never goes below 0, is reset on the space's
schedule and can be set by hand ("there are 12 people inside now"); it is
kept in ``<site>/state/site/spaces.json`` (at most a second behind), so a
restart does not forget who is inside.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from occusense.analytics.engine import reset_due
from occusense.clock import DeviceClock
from occusense.config.base import StrictModel
from occusense.config.schedule import ResetSchedule
from occusense.files import load_state, write_atomic

log = logging.getLogger(__name__)

ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
MAX_SPACES = 32
SAVE_EVERY_S = 1.0


class SpaceLine(StrictModel):
    """A camera's line at a door of the space."""

    camera: str = Field(pattern=ID, description="the camera's id in the site")
    direction: Literal["in_enters", "in_leaves"] = Field(
        "in_enters", description="in_enters = the line's In is people entering the space; "
        "in_leaves = its In is people leaving it")


class SpaceRegion(StrictModel):
    """A camera's region inside the space (its people are in the space)."""

    camera: str = Field(pattern=ID)
    region: str = Field(min_length=1, max_length=64, description="the region's name")


class SpaceSettings(StrictModel):
    """One space of ``site.yaml``'s ``spaces:``."""

    id: str = Field(pattern=ID, description="in the API, topics and metrics")
    name: str = Field("", max_length=64, description="shown in the GUI; empty = the id")
    lines: list[SpaceLine] = Field(default_factory=list, max_length=64)
    regions: list[SpaceRegion] = Field(
        default_factory=list, max_length=64,
        description="the space holds the people in these regions (a space counted from "
        "above); give lines or regions, not both")
    capacity: int = Field(0, ge=0, le=100000, description="more people than this is "
                          "overcrowded; 0 = no limit")
    reset: ResetSchedule = Field(default_factory=ResetSchedule)

    @model_validator(mode="after")
    def _counted_somehow(self) -> SpaceSettings:
        if not self.lines and not self.regions:
            raise ValueError(f"space {self.id}: give it the lines at its doors or the "
                             "regions inside it")
        if self.lines and self.regions:  # one would be silently ignored
            raise ValueError(f"space {self.id}: give it the lines at its doors or the "
                             "regions inside it, not both")
        return self

    @property
    def title(self) -> str:
        return self.name or self.id


def sensor_space(config: Any) -> Spaces | None:
    """A single sensor's own space (``config.space``), from its own line; None when off."""
    own = config.space
    if not own.enabled:
        return None
    settings = SpaceSettings(id="space", name=own.name or config.device.name,
                             lines=[SpaceLine(camera="sensor", direction=own.direction.value)],
                             capacity=own.capacity, reset=own.reset)
    return Spaces([settings], Path(config.state_dir) / "spaces.json", config.time.timezone)


def check_spaces(spaces: list[SpaceSettings]) -> list[SpaceSettings]:
    ids = [s.id for s in spaces]
    if len(ids) != len(set(ids)):
        raise ValueError("spaces: each space needs its own id")
    return spaces


@dataclass
class SpaceState:
    """A space's occupancy now and what it was counted from."""

    occupancy: int = 0
    since: float | None = None  # the last reset or correction
    lines: dict[str, list[int]] = field(default_factory=dict)  # camera -> [in, out] last seen
    entered: int = 0
    left: int = 0


def _saved_spaces(doc: Any) -> tuple[float | None, dict[str, SpaceState]]:
    """``spaces.json`` as written by :meth:`Spaces._save`; any other shape raises."""
    if not isinstance(doc, dict) or not isinstance(doc.get("spaces"), dict):
        raise ValueError('not a spaces file: {"last_ts": ..., "spaces": {id: ...}} expected')
    last_ts = None if doc.get("last_ts") is None else float(doc["last_ts"])
    states = {}
    for space_id, state in doc["spaces"].items():
        if not isinstance(state, dict) or not isinstance(state.get("lines", {}), dict):
            raise ValueError(f"space {space_id}: not a space's state")
        since = state.get("since")
        states[str(space_id)] = SpaceState(
            max(0, int(state.get("occupancy", 0))), None if since is None else float(since),
            {str(k): [int(v[0]), int(v[1])] for k, v in state.get("lines", {}).items()},
            int(state.get("entered", 0)), int(state.get("left", 0)))
    return last_ts, states


class Spaces:
    """The spaces of a site, kept up to date from their cameras' counts.

    Args:
        settings: the site's spaces.
        path: where their state is kept (``spaces.json``).
        timezone: the site's time zone, for the reset schedules.
    """

    def __init__(self, settings: list[SpaceSettings], path: Path,
                 timezone: str = "UTC") -> None:
        self.settings = {s.id: s for s in settings}
        self.path = path
        self.clock = DeviceClock(timezone)
        self._lock = threading.Lock()
        self._last_ts: float | None = None
        self._saved: dict[str, Any] | None = None  # the spaces as last written
        self._saved_at = 0.0
        self.states = {s.id: SpaceState() for s in settings}
        self._load()
        self.listeners: list[Callable[[dict[str, dict[str, Any]]], None]] = []

    def _load(self) -> None:
        saved = load_state(self.path, "spaces: the saved occupancy", _saved_spaces,
                           "counting from 0")
        if saved is None:
            return
        self._last_ts, states = saved
        for space_id, state in states.items():
            if space_id in self.states:
                self.states[space_id] = state

    # ---------------------------------------------------------------- counting
    def observe(self, counts: dict[str, dict[str, Any]], now: float | None = None) -> None:
        """The cameras' live counts (camera id -> counts, as the sensors publish them)."""
        now = time.time() if now is None else now
        with self._lock:
            for space_id, settings in self.settings.items():
                state = self.states[space_id]
                if self._last_ts is not None and reset_due(settings.reset, self.clock,
                                                           self._last_ts, now):
                    state.occupancy, state.since = 0, now
                if settings.regions:
                    state.occupancy = sum(int(counts.get(r.camera, {}).get(r.region, 0) or 0)
                                          for r in settings.regions)
                else:
                    self._follow_lines(settings, state, counts)
            self._last_ts = now
        self._save()
        if not self.listeners:
            return
        snapshot = self.snapshot()
        for listener in self.listeners:
            try:
                listener(snapshot)
            except Exception:  # a receiver's failure must not stop the counting
                log.exception("spaces: a receiver failed")

    @staticmethod
    def _follow_lines(settings: SpaceSettings, state: SpaceState,
                      counts: dict[str, dict[str, Any]]) -> None:
        for line in settings.lines:
            camera = counts.get(line.camera, {})
            if "in" not in camera or "out" not in camera:
                continue  # the camera is away or has no line: nothing is made up
            now_in, now_out = int(camera["in"]), int(camera["out"])
            before = state.lines.get(line.camera)
            state.lines[line.camera] = [now_in, now_out]
            if before is None:
                continue  # first look: only what happens from now on counts
            # a reset or a redrawn line starts its counts again: the new figure is the change
            gained_in = now_in - before[0] if now_in >= before[0] else now_in
            gained_out = now_out - before[1] if now_out >= before[1] else now_out
            entered, left = ((gained_in, gained_out) if line.direction == "in_enters"
                             else (gained_out, gained_in))
            state.entered += entered
            state.left += left
            state.occupancy = max(0, state.occupancy + entered - left)

    def set(self, space_id: str, occupancy: int) -> dict[str, Any]:
        """A correction by hand: ``occupancy`` people are inside now."""
        if space_id not in self.settings:
            raise KeyError(space_id)
        if not 0 <= occupancy <= 1_000_000:
            raise ValueError("occupancy: a whole number from 0")
        with self._lock:
            state = self.states[space_id]
            state.occupancy, state.since = int(occupancy), time.time()
        self._save(force=True)
        return self.snapshot()[space_id]

    # ----------------------------------------------------------------- reading
    def occupancy(self, space_id: str) -> int:
        return self.states[space_id].occupancy

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Each space: its name, occupancy, capacity and whether it is over it."""
        with self._lock:
            return {
                space_id: {"id": space_id, "name": settings.title,
                           "occupancy": self.states[space_id].occupancy,
                           "capacity": settings.capacity or None,
                           "overcrowded": bool(settings.capacity
                                               and self.states[space_id].occupancy
                                               > settings.capacity),
                           "entered": self.states[space_id].entered,
                           "left": self.states[space_id].left,
                           "since": self.states[space_id].since,
                           "counted_from": "regions" if settings.regions else "lines"}
                for space_id, settings in self.settings.items()}

    def _save(self, force: bool = False) -> None:
        """Written when changed, at most once a second (a sensor observes on
        every frame); ``force``: now."""
        if not force and time.monotonic() - self._saved_at < SAVE_EVERY_S:
            return
        with self._lock:
            spaces = {k: {"occupancy": s.occupancy, "since": s.since, "lines": dict(s.lines),
                          "entered": s.entered, "left": s.left} for k, s in self.states.items()}
            last_ts = self._last_ts
        if not force and spaces == self._saved:
            return
        try:
            write_atomic(self.path, json.dumps({"last_ts": last_ts, "spaces": spaces}),
                         private_folder=True)
            self._saved, self._saved_at = spaces, time.monotonic()
        except OSError as exc:  # a full disk: counted on in memory, saved later
            log.warning("spaces: %s cannot be saved (%s)", self.path, exc)

    def close(self) -> None:
        self._save(force=True)
