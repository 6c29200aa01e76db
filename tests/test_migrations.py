"""Migrations build the schema from empty on both databases, and match the models exactly."""

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from models.db import make_engine, migrate


def test_migrations_from_empty_match_the_models(database_url):
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:  # start from nothing
            SQLModel.metadata.drop_all(connection)
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        migrate(database_url)
        migrate(database_url)  # a second start changes nothing
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
            diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}),
                                    SQLModel.metadata)
            version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
        assert {"workspace", "member", "outbox", "scheduled_run"} <= tables
        assert diff == [], f"models and migrations disagree: {diff}"
        assert version
    finally:
        engine.dispose()


def test_timestamps_come_back_timezone_aware(engine):
    from datetime import UTC, datetime, timedelta, timezone

    from models.db import session_scope
    from models.workspaces import Workspace

    shanghai_noon = datetime(2026, 11, 22, 12, 0, tzinfo=timezone(timedelta(hours=8)))
    with session_scope(engine) as session:
        session.add(Workspace(team_id="T1", created_at=shanghai_noon, updated_at=shanghai_noon))
    with session_scope(engine) as session:
        row = session.get(Workspace, "T1")
        assert row.created_at == datetime(2026, 11, 22, 4, 0, tzinfo=UTC)
        assert row.created_at.tzinfo is not None
