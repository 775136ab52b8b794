"""Issue 28 (8): the overlay's labels are readable (a dark chip under them,
inside their region rather than on its edge) and sharp in Blur mode (drawn
after the blurred picture is brought back to full size)."""

from __future__ import annotations

import cv2
import numpy as np

from occusense.config import load_config
from occusense.config.device import PrivacyMode
from occusense.track import TrackedPeople
from occusense.web.overlay import REGION, render
from tests.conftest import REPO, SAMPLE_VIDEO


def sample_frame() -> np.ndarray:
    ok, frame = cv2.VideoCapture(str(SAMPLE_VIDEO)).read()
    assert ok
    return frame


def sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F).var())


def exact_label_pixels(picture: np.ndarray) -> int:
    return int(np.all(picture == np.array(REGION, np.uint8), axis=2).sum())


def test_blur_mode_keeps_the_picture_blurred_and_the_labels_sharp():
    config = load_config(REPO / "examples" / "vtest.yaml")
    frame = sample_frame()
    normal = render(frame, config, TrackedPeople(), {})
    config.privacy_mode = PrivacyMode.blur
    blurred = render(frame, config, TrackedPeople(), {})
    assert blurred.shape == frame.shape  # full size: the overlays are drawn at it
    corner = (slice(480, 576), slice(0, 120))  # grass: no overlay there
    assert sharpness(blurred[corner]) < 0.2 * sharpness(normal[corner])  # still a blur
    # the labels' text in the exact overlay colour, as crisp as in Normal mode
    assert exact_label_pixels(blurred) > 0.8 * exact_label_pixels(normal) > 0


def test_region_labels_sit_inside_their_region_on_a_dark_chip():
    config = load_config(REPO / "examples" / "vtest.yaml")
    frame = np.full((576, 768, 3), 255, np.uint8)  # a white picture: the worst case
    picture = render(frame, config, TrackedPeople(), {})
    region = config.region_counting.regions[0]
    cx = int(np.mean([p[0] for p in region.points]) * 768)
    cy = int(np.mean([p[1] for p in region.points]) * 576)
    around = picture[cy - 10:cy + 10, cx - 30:cx + 30]
    assert around.mean() < 128  # darkened under the name
    label = np.all(around == np.array(REGION, np.uint8), axis=2)
    assert label.sum() > 20  # the name is written there
