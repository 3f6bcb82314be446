"""monitorgen: compile a monitoring spec into Prometheus, Alertmanager, Grafana and Python files."""

__version__ = "0.1.0"
