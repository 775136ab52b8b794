"""VS121-P reports: bodies, clock and schedules, the reporter."""
