"""Where reports go. Every sink takes :class:`~occusense.reports.reporter.Report`."""

TEST_TIMEOUT_S = 3.0  # a connection test: a person is waiting for the answer
