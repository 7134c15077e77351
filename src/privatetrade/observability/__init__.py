"""Observability: Prometheus metrics, request windows and the status report (no web code)."""
