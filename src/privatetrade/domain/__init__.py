"""Domain objects shared by the service layers: specs and job states (no I/O)."""
