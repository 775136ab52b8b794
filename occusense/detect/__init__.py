"""Person detection (SPEC P2): the interface, the bundled NanoDet, presets."""

from occusense.detect.base import Detections, Detector
from occusense.detect.presets import make_detector

__all__ = ["Detections", "Detector", "make_detector"]
