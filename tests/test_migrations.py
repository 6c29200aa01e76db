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


def test_sends_recorded_before_cadences_get_their_week_as_period(database_url):
    """0013 keys sends by period label: a weekly send stored before it gets its ISO week."""
    from alembic import command

    from models.db import alembic_config

    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            SQLModel.metadata.drop_all(connection)
            connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
        command.upgrade(alembic_config(database_url), "0010")
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO digest (id, team_id, name, channel, weekday, hour, minute, timezone, metrics, thresholds,"
                " targets, template, owner, paused, created_at) VALUES (1, 'T1', 'weekly', 'C1', 0, 9, 0, 'UTC',"
                " '[]', '{}', '{}', 'default', 'U1', false, '2026-11-01 00:00:00+00:00')"))
            connection.execute(sa.text(
                "INSERT INTO digest_send (digest_id, team_id, period_start, slot, kind, template_used, fell_back,"
                " message_key, chart_uploaded, created_at) VALUES (1, 'T1', '2026-11-16', 'scheduled', 'scheduled',"
                " 'default', false, 'digests:1:2026-11-16:scheduled', true, '2026-11-23 09:00:00+00:00')"))
        migrate(database_url)
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT period, message_key FROM digest_send")).one() == \
                ("2026-W47", "digests:1:2026-11-16:scheduled")
            assert connection.execute(sa.text("SELECT cadence FROM digest")).scalar() == "weekly"
    finally:
        engine.dispose()
