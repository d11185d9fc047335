"""The operator console: live aggregates, events and anomalies built by tailing the audit log,
and the page that shows them."""
