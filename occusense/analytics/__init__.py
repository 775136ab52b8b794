"""Counting analytics: regions, line, flow (pure logic, no I/O)."""
