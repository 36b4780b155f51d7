"""Which tests run in one process when `make test` runs them in several (pytest-xdist, `--dist loadscope`).

Each process has its own PostgreSQL server and broker (the session fixtures in tests/conftest.py).
A module's tests stay together, so a stack of services a module starts once is started once; the
browser tests stay together, as they share one stack and one Chromium (tests/browser/conftest.py);
and so do the modules on a three-node Apache Kafka cluster, so only one cluster runs at a time.
(pytest-xdist's own `xdist_group` marks do not group tests under pytest 9.2, whose node ids it
can no longer rename.)
"""

from __future__ import annotations

import functools
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def uses_the_cluster(module: str) -> bool:
    """A module with tests marked kafka_cluster (tests/conftest_cluster.py)."""
    path = ROOT / module
    return path.is_file() and "kafka_cluster" in path.read_text(encoding="utf-8")


def worker_group(nodeid: str) -> str:
    module = nodeid.split("::")[0]
    if module.startswith("tests/browser/"):
        return "tests/browser"
    if uses_the_cluster(module):
        return "the three-node Kafka cluster"
    return module


class StackScheduling(LoadScopeScheduling):
    """pytest-xdist's scheduling by module, with the groups above in place of modules."""

    def _split_scope(self, nodeid: str) -> str:
        return worker_group(nodeid)
