"""Where reports go. Every sink takes :class:`~occusense.reports.reporter.Report`."""
