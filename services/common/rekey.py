"""Key rotation: re-encrypt every sealed column with the newest key.

To rotate: put a new key first in the service's *_ENCRYPTION_KEYS (keep the
old one after it), restart, run `pairing rekey SERVICE`, then remove the old
key. Every sealed column is a LargeBinary column whose name starts with
"sealed", so a new one is covered without changing this file; a column named
"digest_of_" and a sealed column's name holds its keyed digest (Cipher.digest),
made again with the newest key. Event bodies the outbox still holds (events
waiting to be sent, and events the broker refused, set aside) are encrypted
too, and are rotated here as well.
"""

from __future__ import annotations

import logging

from sqlalchemy import LargeBinary, select, update

from services.common.crypto import Cipher, EncryptionKeyError, is_plain_json
from services.common.store import make_engine

log = logging.getLogger(__name__)


def sealed_columns(metadata) -> list[tuple]:
    return [
        (table, column)
        for table in metadata.sorted_tables
        for column in table.columns
        if column.name.startswith("sealed") and isinstance(column.type, LargeBinary)
    ]


async def rekey(database_url: str, metadata, cipher: Cipher) -> int:
    """Re-encrypt every sealed value with the first key; returns how many values were rewritten."""
    engine = make_engine(database_url)
    rewritten = 0
    try:
        async with engine.begin() as conn:
            for table, column in sealed_columns(metadata):
                key = list(table.primary_key.columns)
                digest = table.c.get(f"digest_of_{column.name}")
                rows = (await conn.execute(select(*key, column).where(column.is_not(None)))).all()
                for row in rows:
                    *ids, token = row
                    condition = [k == v for k, v in zip(key, ids, strict=True)]
                    rotated = cipher.rotate(token)
                    values: dict[str, bytes | str] = {column.name: rotated}
                    if digest is not None:  # its keyed digest (Cipher.digest), made again with the new key
                        values[digest.name] = cipher.digest(cipher.open_bytes(token), rotated)
                    await conn.execute(update(table).where(*condition).values(values))
                    rewritten += 1
            rewritten += await _rekey_outbox(conn, metadata, cipher)
    finally:
        await engine.dispose()
    return rewritten


async def _rekey_outbox(conn, metadata, cipher: Cipher) -> int:
    """Re-encrypt every body the outbox still holds: events not yet published, and events the broker
    refused, set aside with their body kept (relay.py). Published bodies are already cleared."""
    outbox = metadata.tables.get("outbox")
    if outbox is None:
        return 0
    kept = outbox.c.value.is_not(None)
    rows = (await conn.execute(select(outbox.c.id, outbox.c.event_id, outbox.c.value, outbox.c.published_at).where(kept))).all()
    rotated = 0
    for row_id, event_id, value, published_at in rows:
        try:
            # A body written before bodies were encrypted is encrypted now rather than rotated.
            token = cipher.seal_bytes(value) if is_plain_json(value) else cipher.rotate(value)
        except EncryptionKeyError as exc:
            if published_at is None:  # waiting to be sent: the relay cannot send it either, so whoever rotates must know
                raise EncryptionKeyError(
                    f"Event {event_id}, waiting to be sent, cannot be read with the configured keys. Was a key removed "
                    "too early? Put the old key back after the new one and run pairing rekey again."
                ) from exc
            # Set aside while rotation still passed such rows by, and its key since removed: it stays as it is.
            log.warning("the body of set-aside event %s cannot be read with the configured keys; left as it is", event_id)
            continue
        # Only while still kept: a relay that published it meanwhile has cleared it, and that stays.
        done = await conn.execute(update(outbox).where(outbox.c.id == row_id, kept).values(value=token))
        rotated += done.rowcount
    return rotated
