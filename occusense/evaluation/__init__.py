"""Accuracy against ground truth (``occusense eval``)."""
