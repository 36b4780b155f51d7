"""What the notifier deletes when its retention period has passed (README: Retention).

- its record of each message (delivery rows): `NOTIFIER_RETENTION_DAYS` after their last change;
- text messages, letters and tasks for a person in the output folders: `NOTIFIER_FILE_RETENTION_DAYS`
  after they were written (a gateway, printer or member of staff has long since taken them).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import delete

from services.notifier.adapters.orm import DeliveryRow
from services.notifier.context import Notifier, rows_changed


async def purge(n: Notifier, keep_days: int, file_days: int) -> dict[str, int]:
    now = n.now()
    async with n.store.unit_of_work() as uow:
        gone = await uow.session.execute(delete(DeliveryRow).where(DeliveryRow.updated_at < now - dt.timedelta(days=keep_days)))
        await uow.commit()
    files = remove_old_files(n.folders, (now - dt.timedelta(days=file_days)).timestamp())
    return {"message records": rows_changed(gone), "files": files}


def remove_old_files(folders: tuple[Path, ...], before: float) -> int:
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.is_file() and path.stat().st_mtime < before:
                path.unlink(missing_ok=True)
                removed += 1
    return removed
