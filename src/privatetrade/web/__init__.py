"""The web service: FastAPI app factory, JSON API routers, errors, metrics."""
