"""Multi-person tracking (SPEC P3).

``PersonTracker`` wraps ByteTrack from the maintained ``trackers`` package
(Roboflow, Apache-2.0) and adds :class:`~occusense.track.identity.IdentityStitcher`,
which gives a person back their ID when ByteTrack loses them for longer than
its buffer and starts a new track nearby. Counters only see stable person IDs.

A person the detector misses for a moment (hidden behind another, or a weak
detection) is still there: :class:`PersonTracker` keeps them, where last
seen, for ``hold_missed_s``. ByteTrack keeps such a lost track internally
but leaves it out of its output; without holding, a group of three counts as
two in every frame where one of them is missed. Measured (bench/RESULTS.md,
sixth session): region errors per frame fall by a fifth to a third.

People who sit still stay counted (issue 25, rooms): with ``hold_still``,
a person the detector no longer finds is kept where last seen for as long
as the picture inside their box has not changed since (a chair does not
empty without motion): their box is compared, as a small grey thumbnail,
with the one of their last sighting. Motion there (mean difference over
``STILL_DIFFERENCE`` grey levels) or a new detection on the same place (the
detector says who is there now) ends the hold. Only for room cameras: a
walking person who is missed has moved on.

``trackers`` is installed with ``--no-deps`` because it asks for the desktop
``opencv-python``, which clashes with the headless build we use; its real
needs (numpy, scipy, supervision, rich) are in our own requirements.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import supervision as sv
from trackers import ByteTrackTracker
from trackers.core.bytetrack.tracklet import ByteTrackTracklet

from occusense.detect.base import Detections
from occusense.track.identity import IdentityStitcher


@dataclass
class TrackedPeople:
    """People of one frame with stable IDs.

    Attributes:
        ids: ``(N,)`` person IDs, stable across ID switches of the tracker.
        boxes: ``(N, 4)`` pixel boxes ``x1, y1, x2, y2``.
        ended: IDs of people whose track ended for good at this frame.
        raw_ids: the tracker's own IDs of the same rows (before stitching).
        first_ids: people whose track was confirmed at this frame (a track
            gets its ID at its second detection), and ``first_boxes`` where
            the detection before saw them: the counters take that step too,
            so a person who crosses a line between their first two
            detections is counted.
    """

    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    ended: list[int] = field(default_factory=list)
    raw_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    first_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    first_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))

    def __len__(self) -> int:
        return len(self.ids)


STILL_DIFFERENCE = 12.0  # grey levels (of 255), mean over a person's box thumbnail
THUMBNAIL = (16, 24)  # width, height


def thumbnail(image: np.ndarray | None, box: np.ndarray) -> np.ndarray | None:
    """A person's box as a small grey picture (None without an image)."""
    if image is None:
        return None
    h, w = image.shape[:2]
    x1, y1 = max(0, int(box[0])), max(0, int(box[1]))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    patch = image[y1:y2, x1:x2]
    grey = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY) if patch.ndim == 3 else patch
    return cv2.resize(grey, THUMBNAIL, interpolation=cv2.INTER_AREA).astype(np.float32)


@dataclass
class _Sighting:
    person_id: int
    box: np.ndarray
    raw_id: int
    timestamp: float
    picture: np.ndarray | None = None  # the box's thumbnail when last detected


class PersonTracker:
    """ByteTrack plus identity stitching, driven by frame timestamps.

    Args:
        frame_rate: the source's nominal frame rate.
        lost_buffer_s: how long ByteTrack keeps a lost track (seconds).
        stitch_gap_s: how long after losing a person a new track may take
            their ID back.
        activation_threshold: minimum score to start a track.
        min_consecutive_frames: frames a new track must be seen in before it
            gets an ID (filters one-frame false detections).
        hold_missed_s: how long a person the detector misses is still given
            out, where last seen (0: only the people detected).
        hold_still: keep a missed person for as long as the picture inside
            their box has not changed (rooms; needs the images in
            :meth:`update`).
    """

    def __init__(
        self,
        frame_rate: float = 10.0,
        lost_buffer_s: float = 1.0,
        stitch_gap_s: float = 2.0,
        activation_threshold: float = 0.4,
        min_consecutive_frames: int = 2,
        hold_missed_s: float = 0.4,
        hold_still: bool = False,
    ) -> None:
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(lost_buffer_s * 30)),
            frame_rate=frame_rate,
            track_activation_threshold=activation_threshold,
            minimum_consecutive_frames=min_consecutive_frames,
            high_conf_det_threshold=activation_threshold + 0.1,
        )
        self.identity = IdentityStitcher(max_gap_s=stitch_gap_s)
        self._last = TrackedPeople()
        # ByteTrack's tracks that have no ID yet -> the box they started from
        self._unconfirmed: dict[ByteTrackTracklet, np.ndarray] = {}
        self.hold_missed_s = hold_missed_s
        self.hold_still = hold_still
        self._last_seen: dict[int, _Sighting] = {}  # person ID -> last detection
        self._held: set[int] = set()  # still people whose track has ended: ended when let go

    def update(self, found: Detections, timestamp: float,
               image: np.ndarray | None = None) -> TrackedPeople:
        dets = sv.Detections(
            xyxy=found.boxes.astype(np.float32).reshape(-1, 4),
            confidence=found.scores.astype(np.float32),
            class_id=np.zeros(len(found), dtype=int),
        )
        out = self._tracker.update(dets)
        raw_ids: np.ndarray = np.zeros(0, np.int64)
        boxes: np.ndarray = np.zeros((0, 4), np.float32)
        if len(out) and out.tracker_id is not None:
            tracked = out.tracker_id >= 0
            raw_ids, boxes = out.tracker_id[tracked].astype(np.int64), out.xyxy[tracked]
        ids, ended = self.identity.update(raw_ids, boxes, timestamp)
        people = TrackedPeople(ids, boxes.astype(np.float32), ended, raw_ids)
        people.first_ids, people.first_boxes = self._first_sightings(people)
        people = self._with_missed(people, timestamp, image)
        self._last = people
        return people

    def _with_missed(self, people: TrackedPeople, timestamp: float,
                     image: np.ndarray | None = None) -> TrackedPeople:
        """``people`` plus those detected within ``hold_missed_s`` but not
        now, where they were last seen (and, with ``hold_still``, those whose
        place has not changed since)."""
        seen = self._last_seen
        ended = list(people.ended)
        for pid in people.ended:
            if self.hold_still and pid in seen and self._unchanged(seen[pid], image):
                self._held.add(pid)  # its end waits until the hold lets go
                ended.remove(pid)
            else:
                seen.pop(pid, None)
        rows = zip(people.ids.tolist(), people.boxes, people.raw_ids.tolist(), strict=True)
        for pid, box, raw in rows:
            picture = thumbnail(image, box) if self.hold_still else None
            seen[pid] = _Sighting(pid, box, raw, timestamp, picture)
        oldest = timestamp - self.hold_missed_s - 1e-9
        for pid in [pid for pid, last in seen.items() if last.timestamp < oldest]:
            if self.hold_still and self._still_there(seen[pid], image, people.boxes):
                continue
            del seen[pid]
            if pid in self._held:  # a held person let go: their track ends now
                self._held.discard(pid)
                ended.append(pid)
        people.ended = ended
        missed = [last for last in seen.values() if last.timestamp < timestamp]
        if not missed:
            return people
        return TrackedPeople(
            np.concatenate([people.ids, np.array([last.person_id for last in missed], np.int64)]),
            np.concatenate([people.boxes, np.array([last.box for last in missed], np.float32)]),
            people.ended,
            np.concatenate([people.raw_ids, np.array([last.raw_id for last in missed], np.int64)]),
            people.first_ids,
            people.first_boxes,
        )

    @staticmethod
    def _unchanged(last: _Sighting, image: np.ndarray | None) -> bool:
        """The picture inside ``last``'s box is as it was when last detected."""
        now = thumbnail(image, last.box)
        if now is None or last.picture is None:
            return False
        return float(np.abs(now - last.picture).mean()) <= STILL_DIFFERENCE

    def _still_there(self, last: _Sighting, image: np.ndarray | None,
                     detected: np.ndarray) -> bool:
        """A missed person still sits there: no motion in their box, and no
        one detected on their place now."""
        if len(detected) and _best_iou(last.box, detected) >= 0.5:
            return False
        return self._unchanged(last, image)

    def _first_sightings(self, people: TrackedPeople) -> tuple[np.ndarray, np.ndarray]:
        """People whose ByteTrack track got its ID at this update, with the
        box of the detection that started the track."""
        confirmed: dict[int, np.ndarray] = {}
        pending: dict[ByteTrackTracklet, np.ndarray] = {}
        for track in self._tracker.tracks:
            first = self._unconfirmed.get(track)
            if track.tracker_id < 0:
                pending[track] = track.get_state_bbox() if first is None else first
            elif first is not None:
                confirmed[int(track.tracker_id)] = first
        self._unconfirmed = pending
        raw_ids = people.raw_ids.tolist()
        rows = [row for row, raw in enumerate(raw_ids) if raw in confirmed]
        boxes = np.array([confirmed[raw_ids[row]] for row in rows], np.float32).reshape(-1, 4)
        return people.ids[rows], boxes

    def between_detections(self) -> TrackedPeople:
        """The people of the last detection, where they were seen: what the
        frames between two detections (``detector.detect_every``) count.

        Holding people still, rather than moving them on by their recent
        velocity, is measured to count better (bench/RESULTS.md, fifth
        session): a velocity taken from two jittery boxes overshoots, and a
        person carried over a line by the prediction and back by the next
        detection is counted both ways.
        """
        last = self._last
        return TrackedPeople(last.ids, last.boxes, [], last.raw_ids)

    def finish(self) -> list[int]:
        """End every open track (end of a file)."""
        self._last_seen.clear()
        held, self._held = sorted(self._held), set()
        return self.identity.finish() + held


def _best_iou(box: np.ndarray, boxes: np.ndarray) -> float:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return float((inter / (area + areas - inter + 1e-9)).max())
