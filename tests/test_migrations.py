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


def at_revision(database_url: str, revision: str):
    """An engine on this test's database, emptied and migrated up to `revision` only."""
    from alembic import command

    from models.db import alembic_config

    engine = make_engine(database_url)
    with engine.begin() as connection:
        SQLModel.metadata.drop_all(connection)
        connection.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))
    command.upgrade(alembic_config(database_url), revision)
    return engine


def test_sends_recorded_before_cadences_get_their_week_as_period(database_url):
    """0011 keys sends by period label: a weekly send stored before it gets its ISO week."""
    engine = at_revision(database_url, "0010")
    try:
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


def test_money_presets_stop_carrying_a_guessed_yen(database_url):
    """0013: a CAC made from the preset (its own label, "¥") follows the workspace's currency; a unit a
    team chose stays."""
    engine = at_revision(database_url, "0010")
    try:
        with engine.begin() as connection:
            for name, label, unit in (("CAC", "Customer acquisition cost", "¥"), ("GMV", "GMV (Tmall)", "¥"),
                                      ("LTV", "Customer lifetime value", "USD")):
                connection.execute(sa.text(
                    "INSERT INTO metric (team_id, name, label, unit, direction, aggregation, created_by, created_at)"
                    " VALUES ('T1', :name, :label, :unit, 'lower', 'sum', 'U1', :now)"),
                    {"name": name, "label": label, "unit": unit, "now": "2026-11-01 00:00:00"})
        migrate(database_url)
        with engine.connect() as connection:
            units = dict(connection.execute(sa.text("SELECT name, unit FROM metric")).all())
        assert units == {"CAC": "¤", "GMV": "¥", "LTV": "USD"}
    finally:
        with engine.begin() as connection:  # the next test on this database starts from empty tables
            connection.execute(sa.text("DELETE FROM metric"))
        engine.dispose()
