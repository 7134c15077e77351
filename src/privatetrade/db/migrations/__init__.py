"""Alembic migrations of the privatetrade schema."""
