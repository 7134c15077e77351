"""Persistence: SQLAlchemy 2 (Core) tables, Alembic migrations and repositories."""
