"""Alembic environment: runs on the connection privatetrade hands over.

``privatetrade.db.migrate`` opens the transaction (and takes the migration lock);
the migrations run inside it and it commits them.
"""

from __future__ import annotations

from alembic import context

from privatetrade.db.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
