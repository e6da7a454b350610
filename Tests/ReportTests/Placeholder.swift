// Keeps the ReportTests target non-empty while its suites are elsewhere.
