"""End-to-end tests: generated configs running together in a live Prometheus + Alertmanager."""
