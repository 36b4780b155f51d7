"""The registry's handlers: one module per area (leaders, erasure, programmes, rounds, review,
publishing, answers), sharing common.py.

The convention: a handler receives the unit of work first (`uow`), then what it acts on, and
does four things: load rows, decide (the rules are in services/registry/domain, which does no
input or output), save rows, and publish events through `uow.publish` (the outbox). It never
commits: its caller (a route, a page, or the consumer through handle_once) commits, so the
database changes and the events they cause land together or not at all. A handler reports a
refusal by raising NotFound or Conflict (common.py) with words a person can act on.

A handler may take a store instead (a Protocol in store.py, such as Rounds or Publications; the
services pass SqlRounds(uow)), so it can be unit tested with an in-memory fake: approve_round and
publish_round do (tests/unit/registry/test_approving_a_round.py, test_publishing_a_round.py).

Reads that change nothing, shared by the API and the pages, are in services/registry/queries.py.
"""
