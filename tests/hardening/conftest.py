"""Fixtures the hardening tests share with the web tests."""

from tests.web.conftest import plain_sensor, sensor  # noqa: F401 - fixtures
