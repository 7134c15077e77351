"""Artifacts: a job's named result documents, stored generically instead of in fixed columns.

Existing results move over as inline artifacts (``result.json``, ``trades.csv``,
``equity.csv``) with their bytes unchanged; new ones are files in the data
directory, referenced by ``location``. A downgrade moves inline artifacts back into
``results``; file artifacts have no place there and are dropped with their rows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

from privatetrade.db.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_LEGACY = (
    ("result.json", "document", "application/json"),
    ("trades.csv", "trades_csv", "text/csv; charset=utf-8"),
    ("equity.csv", "equity_csv", "text/csv; charset=utf-8"),
)


def _artifacts_table() -> sa.TableClause:
    return sa.table(
        "artifacts",
        sa.column("job_id", sa.String),
        sa.column("name", sa.String),
        sa.column("attempt", sa.Integer),
        sa.column("media_type", sa.String),
        sa.column("size", sa.BigInteger),
        sa.column("sha256", sa.String),
        sa.column("location", sa.String),
        sa.column("content", sa.LargeBinary),
        sa.column("created_at", UTCDateTime),
    )


def _results_table() -> sa.TableClause:
    return sa.table(
        "results",
        sa.column("job_id", sa.String),
        sa.column("owner", sa.String),
        sa.column("attempt", sa.Integer),
        sa.column("created_at", UTCDateTime),
        sa.column("document", sa.LargeBinary),
        sa.column("trades_csv", sa.LargeBinary),
        sa.column("equity_csv", sa.LargeBinary),
        sa.column("document_sha256", sa.String),
    )


def upgrade() -> None:
    """Create ``artifacts``, move every stored result into it, drop ``results``."""
    op.create_table(
        "artifacts",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("media_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("location", sa.String(255)),
        sa.Column("content", sa.LargeBinary),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_artifacts_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", "name", name="pk_artifacts"),
    )
    connection = op.get_bind()
    results, artifacts = _results_table(), _artifacts_table()
    ids = [row.job_id for row in connection.execute(sa.select(results.c.job_id))]
    for job_id in ids:  # one result at a time: documents can be tens of megabytes
        row = connection.execute(sa.select(results).where(results.c.job_id == job_id)).one()
        for name, column, media_type in _LEGACY:
            content = bytes(getattr(row, column))
            digest = (
                row.document_sha256 if column == "document" else hashlib.sha256(content).hexdigest()
            )
            connection.execute(
                sa.insert(artifacts).values(
                    job_id=job_id,
                    name=name,
                    attempt=row.attempt,
                    media_type=media_type,
                    size=len(content),
                    sha256=digest,
                    location=None,
                    content=content,
                    created_at=row.created_at,
                )
            )
    op.drop_table("results")


def downgrade() -> None:
    """Recreate ``results`` from inline artifacts; drop ``artifacts``."""
    op.create_table(
        "results",
        sa.Column("job_id", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("document", sa.LargeBinary, nullable=False),
        sa.Column("trades_csv", sa.LargeBinary, nullable=False),
        sa.Column("equity_csv", sa.LargeBinary, nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"], ["jobs.id"], name="fk_results_job_id_jobs", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("job_id", name="pk_results"),
    )
    connection = op.get_bind()
    artifacts, results = _artifacts_table(), _results_table()
    jobs = sa.table("jobs", sa.column("id", sa.String), sa.column("owner", sa.String))
    inline = sa.select(artifacts.c.job_id).where(
        artifacts.c.name == "result.json", artifacts.c.content.is_not(None)
    )
    for job_id in [row.job_id for row in connection.execute(inline)]:
        rows = {
            row.name: row
            for row in connection.execute(sa.select(artifacts).where(artifacts.c.job_id == job_id))
        }
        if any(name not in rows or rows[name].content is None for name, _, _ in _LEGACY):
            continue
        owner = connection.execute(sa.select(jobs.c.owner).where(jobs.c.id == job_id)).scalar()
        document = rows["result.json"]
        connection.execute(
            sa.insert(results).values(
                job_id=job_id,
                owner=owner,
                attempt=document.attempt,
                created_at=document.created_at,
                document=document.content,
                trades_csv=rows["trades.csv"].content,
                equity_csv=rows["equity.csv"].content,
                document_sha256=document.sha256,
            )
        )
    op.drop_table("artifacts")
