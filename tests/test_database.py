"""SQLite's single write lock is handed out in turn inside one process (models.db.WriteTurns)."""

import threading
import time

import pytest
import sqlalchemy as sa

from models.db import WriteTurns, make_engine, session_scope
from tests.conftest import wait_until


@pytest.fixture
def sqlite_engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE tick (n INTEGER)"))
    yield engine
    engine.dispose()


def test_writers_get_the_lock_in_the_order_they_asked():
    turns = WriteTurns(timeout=5)
    turns.acquire()
    order = []

    def writer(name):
        turns.acquire()
        order.append(name)
        turns.release()

    threads = []
    for name in ("first", "second", "third"):
        threads.append(threading.Thread(target=writer, args=(name,)))
        threads[-1].start()
        wait_until(lambda: len(turns._waiting) == len(threads), message=f"{name} to queue")
    turns.release()
    for thread in threads:
        thread.join(5)
    assert order == ["first", "second", "third"]


def test_a_writer_that_waits_too_long_gets_database_is_locked_and_leaves_the_queue():
    turns = WriteTurns(timeout=0.1)
    turns.acquire()
    with pytest.raises(sa.exc.OperationalError, match="database is locked"):
        turns.acquire()
    assert not turns._waiting
    turns.release()
    turns.acquire()  # free again at once
    turns.release()


def test_a_busy_writer_does_not_starve_another_thread(sqlite_engine):
    stop = threading.Event()

    def busy():  # commits back to back, as a fan-out queueing its batches does
        while not stop.is_set():
            with session_scope(sqlite_engine) as session:
                session.execute(sa.text("INSERT INTO tick VALUES (1)"))
                time.sleep(0.005)

    thread = threading.Thread(target=busy)
    thread.start()
    try:
        time.sleep(0.1)
        waits = []
        for _ in range(5):
            started = time.monotonic()
            with session_scope(sqlite_engine) as session:
                session.execute(sa.text("INSERT INTO tick VALUES (2)"))
            waits.append(time.monotonic() - started)
    finally:
        stop.set()
        thread.join(5)
    assert max(waits) < 0.2, waits


def test_a_failed_transaction_gives_its_turn_back(sqlite_engine):
    with pytest.raises(RuntimeError), session_scope(sqlite_engine) as session:
        session.execute(sa.text("INSERT INTO tick VALUES (3)"))
        raise RuntimeError("a rule failed")
    counted = []

    def count():
        with session_scope(sqlite_engine) as session:
            counted.append(session.execute(sa.text("SELECT count(*) FROM tick")).scalar())

    reader = threading.Thread(target=count)
    reader.start()
    reader.join(2)
    assert counted == [0]
