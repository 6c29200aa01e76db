"""CSV exports to the asker's DM: rows read in chunks (a short transaction each), a file Excel
opens correctly (UTF-8 with BOM), and every cell neutralised so a spreadsheet never runs it as a
formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import Any

from clock import utcnow
from handlers.common import Services
from models.db import session_scope

CHUNK = 1000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs cells starting so as formulas


def neutralise(cell: str) -> str:
    """A leading quote keeps =, +, -, @ (and tab, CR) from making a cell a spreadsheet formula."""
    return "'" + cell if cell.startswith(FORMULA_START) else cell


def build_csv(services: Services, *, columns: Iterable[str], read: Callable[[Any, Any], list],
              cells: Callable[[Any], Iterable], after: Callable[[Any], Any]) -> tuple[bytes, int]:
    """(CSV bytes, row count). `read(session, after)` gives the next chunk of at most CHUNK rows,
    `cells(row)` a row's values, `after(row)` the key the next chunk starts after."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    count, last = 0, 0
    while True:
        with session_scope(services.engine) as session:
            rows = read(session, last)
        if not rows:
            break
        writer.writerows([neutralise(str(cell)) for cell in cells(row)] for row in rows)
        count, last = count + len(rows), after(rows[-1])
    return buffer.getvalue().encode("utf-8-sig"), count


def send_to_dm(services: Services, user_id: str, data: bytes, *, name: str, title: str, comment: str) -> None:
    """Upload the file to the user's DM with Tandem, named `{name}-{when}.csv`."""
    dm = services.delivery.call("conversations.open", users=user_id)["channel"]["id"]
    services.delivery.call("files_upload_v2", channel=dm, file=data, title=title,
                           filename=f"{name}-{utcnow():%Y%m%d-%H%M%S}.csv", initial_comment=comment)
