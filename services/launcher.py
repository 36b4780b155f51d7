"""Starts the whole product on one machine: broker, email sink and the three
services, each its own process. Used by `make run`, `make demo` and the
end-to-end tests, so what the tests check is what people run."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe

import httpx
from sqlalchemy import text

from services.common import apache_kafka
from services.common.apache_kafka import ApacheKafka
from services.common.crypto import new_key
from services.common.embedded import EmbeddedKafka, free_port, port_is_open, stop_with_parent, wait_for_port
from services.common.store import make_engine

SERVICES = ("registry", "matcher", "notifier")


def say(text: str) -> None:
    print(text, flush=True)


ADMIN_EMAIL = "admin@pairing.local"
# The programme team every message names, for rounds launched for everyone or an area. All made up:
# 0113 496 0000 to 0999 are Leeds numbers kept for drama and examples. Your own environment wins.
MADE_UP_PROGRAMME = {
    "REGISTRY_PROGRAMME_TEAM": "the patient leader programme team",
    "REGISTRY_PROGRAMME_CONTACT_NAME": "Priya Shah",
    "REGISTRY_PROGRAMME_PHONE": "0113 496 0123",
    "REGISTRY_PROGRAMME_EMAIL": "patient.leaders@example.nhs.uk",
    "REGISTRY_PROGRAMME_POSTAL_ADDRESS": "Patient Leader Programme\\nRoom 4.12, Example House\\n10 Park Row\\nLeeds\\nLS1 5AB",
}


def secrets_for(data_dir: Path) -> dict[str, str]:
    """Keys and the first admin's password for the embedded default, made once and kept beside the local databases.

    Each service has its own key at rest (`<service>_encryption_keys`), so one service's key opens no other's
    data. A file from before kept one key for all three (`encryption_keys`): it becomes each service's key the
    first time, so what they stored with it still opens. The key for sealed events (`event_keys`) is shared."""
    path = data_dir / "secrets.json"
    secrets = json.loads(path.read_text()) if path.exists() else {}
    made = {
        "event_keys": new_key(),
        "token_secret": new_key(),
        "admin_password": token_urlsafe(12),
        "admin_api_token": f"pairing_{token_urlsafe(32)}",
    }
    made |= {f"{service}_encryption_keys": secrets.get("encryption_keys") or new_key() for service in SERVICES}
    if not set(made) <= set(secrets):
        path.write_text(json.dumps({**made, **secrets}))
        path.chmod(0o600)
    return json.loads(path.read_text())


@dataclass
class Stack:
    data_dir: Path
    http_port: int = 8000
    database_urls: dict[str, str] = field(default_factory=dict)
    kafka_bootstrap: str | None = None
    smtp_port: int | None = None
    start_smtp_sink: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)
    # Where the matcher and notifier answer /health and /metrics; free ports unless given.
    ops_ports: dict[str, int] = field(default_factory=dict)
    group_prefix: str = field(default_factory=lambda: f"pairing-{token_urlsafe(4)}")
    report: Callable[[str], None] = say
    # With no kafka_bootstrap, which broker to start: "tansu" (in memory) or "apache" (Apache Kafka,
    # one node keeping its data in data_dir/kafka across restarts).
    broker: str = "tansu"

    kafka: EmbeddedKafka | ApacheKafka | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    services: dict[str, str] = field(default_factory=dict)  # instance name -> service

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    async def event_refs(self) -> dict[str, str]:
        """Every registered leader's event reference, by registry id, read from the registry's database.

        Events and the messages the notifier writes name people by these random references
        (services/registry/event_refs.py), never by the registry's id; the demos and the tests
        use them to say whose message is whose."""
        default = f"sqlite:///{(self.data_dir / 'registry.db').resolve()}"
        engine = make_engine(self.database_urls.get("registry", default))
        try:
            async with engine.connect() as conn:
                return dict((await conn.execute(text("select id, event_ref from leaders"))).all())
        finally:
            await engine.dispose()

    def leader_ids_by_event_ref(self) -> dict[str, str]:
        """The other way round, for code that is not async: registry id by event reference."""
        return {ref: leader_id for leader_id, ref in asyncio.run(self.event_refs()).items()}

    @property
    def admin(self) -> tuple[str, str]:
        """The first admin's email address and password, for signing in."""
        return ADMIN_EMAIL, secrets_for(self.data_dir)["admin_password"]

    @property
    def api_token(self) -> str:
        """The first admin's API token, for programs on this machine (the demo, `pairing queue`, the tests):
        an admin's password alone does not open the API, as they sign in with a second factor too."""
        return secrets_for(self.data_dir)["admin_api_token"]

    def env(self) -> dict[str, str]:
        secrets = secrets_for(self.data_dir)
        env = {
            **MADE_UP_PROGRAMME,
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap or "",
            # Each stack its own consumer groups, so stacks sharing a broker never take each other's events.
            "KAFKA_CLIENT_PREFIX": self.group_prefix,
            "REGISTRY_HTTP_PORT": str(self.http_port),
            "REGISTRY_PUBLIC_URL": self.base_url,
            "REGISTRY_ENCRYPTION_KEYS": secrets["registry_encryption_keys"],
            "REGISTRY_TOKEN_SECRET": secrets["token_secret"],
            "REGISTRY_ADMIN_EMAIL": ADMIN_EMAIL,
            "REGISTRY_ADMIN_PASSWORD": secrets["admin_password"],
            "REGISTRY_ADMIN_API_TOKEN": secrets["admin_api_token"],
            "NOTIFIER_ENCRYPTION_KEYS": secrets["notifier_encryption_keys"],
            # Wraps each leader's own key on leaders.keys.v1: only the registry and the notifier hold it.
            "REGISTRY_EVENT_KEYS": secrets["event_keys"],
            "NOTIFIER_EVENT_KEYS": secrets["event_keys"],
            "MATCHER_ENCRYPTION_KEYS": secrets["matcher_encryption_keys"],
            # Letters, text messages and tasks for a person land beside the mail folder.
            "NOTIFIER_OUTPUT_DIR": str(self.data_dir.resolve()),
        }
        if self.smtp_port:
            env["NOTIFIER_SMTP_PORT"] = str(self.smtp_port)
        for service in SERVICES:
            default = f"sqlite:///{(self.data_dir / f'{service}.db').resolve()}"
            env[f"{service.upper()}_DATABASE_URL"] = self.database_urls.get(service, default)
        if self.broker == "apache":
            env["KAFKA_ENABLE_IDEMPOTENCE"] = "true"  # Apache Kafka has the idempotent producer; Tansu does not
        elif isinstance(self.kafka, EmbeddedKafka):
            # The embedded broker this stack started has none, whatever the caller's environment asks for.
            env["KAFKA_ENABLE_IDEMPOTENCE"] = "false"
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.log_dir.mkdir(mode=0o700, exist_ok=True)
        if port_is_open("127.0.0.1", self.http_port):
            raise RuntimeError(
                f"port {self.http_port} is already in use; stop what uses it, or choose another port with PORT=8001"
            )
        try:
            if not self.kafka_bootstrap:
                self.kafka = self._start_broker()
                self.kafka_bootstrap = self.kafka.bootstrap_servers
            self.report(f"  broker ready at {self.kafka_bootstrap}")
            if self.start_smtp_sink:
                self.smtp_port = self.smtp_port or free_port()
                self.report("Starting the local email sink ...")
                self._spawn("email-sink", ["smtp-sink", "--port", str(self.smtp_port), "--maildir", str(self.mail_dir)])
                wait_for_port("127.0.0.1", self.smtp_port, 20, "The email sink", self.processes["email-sink"])
                self.report(f"  every message will be saved in {self.mail_dir}")
            for service in SERVICES:
                self.report(f"Starting the {service} ...")
                self.start_service(service)
            self._wait_for_registry()
            self.report(f"  registry ready: {self.base_url} (API guide at {self.base_url}/docs)")
        except BaseException:
            self.stop()
            raise

    def _start_broker(self) -> EmbeddedKafka | ApacheKafka:
        if self.broker == "apache":
            self.report(
                f"Starting Apache Kafka {apache_kafka.version()} (one node; its data is kept in {self.data_dir / 'kafka'}) ..."
            )
            return ApacheKafka.start(self.data_dir / "kafka", log_path=self.log_dir / "broker.log")
        self.report("Starting the Kafka broker (Tansu, kept in memory) ...")
        return EmbeddedKafka.start(log_path=self.log_dir / "broker.log")

    def start_service(self, service: str, instance: str | None = None) -> None:
        """Start a service; name a second `instance` (say "matcher-2") to scale it out."""
        name = instance or service
        env = {}
        if service == "registry":
            # The queue monitor asks the others how they are doing, on their operations ports.
            ports = {other: self.ops_ports.setdefault(other, free_port()) for other in SERVICES if other != "registry"}
            env["REGISTRY_WATCH"] = ",".join(f"{other}=http://127.0.0.1:{port}" for other, port in ports.items())
        else:
            port = self.ops_ports.setdefault(name, free_port())
            if port_is_open("127.0.0.1", port):
                raise RuntimeError(f"port {port} is already in use; stop what uses it")
            env["OPS_PORT"] = str(port)
        self._spawn(name, ["serve", service], env)
        self.services[name] = service

    def kill_service(self, name: str) -> None:
        """Stop a service with no warning at all (kill -9), as a crash would."""
        process = self.processes[name]
        process.kill()
        process.wait()

    def stop_service(self, name: str) -> None:
        """Stop a service politely (SIGTERM): it finishes what it is doing and hands its work over."""
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        process.wait(30)

    def restart_service(self, name: str, tries: int = 3, seconds: float = 30) -> None:
        """Start a stopped service again and wait until it answers, as a supervisor would.

        A start whose consumers cannot join their groups in time (seen on Tansu after
        a member was killed mid-rebalance) is stopped and tried again, like a failed
        liveness probe in Kubernetes.
        """
        for _ in range(tries):
            self.start_service(self.services.get(name, name), name)
            if self._answers(name, seconds):
                return
            self.report(f"  the {name} did not come up within {seconds:.0f} seconds; starting it again")
            self.kill_service(name)
        raise RuntimeError(f"the {name} did not come up after {tries} tries; see {self.log_dir}/{name}.log")

    def _answers(self, name: str, seconds: float) -> bool:
        url = f"{self.base_url}/health" if name == "registry" else f"http://127.0.0.1:{self.ops_ports[name]}/live"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.processes[name].poll() is not None:
                return False
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        # Readable by the owner only, like everything the services write (they run with umask 077).
        log = os.fdopen(os.open(self.log_dir / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        traces = {"TRACES_FILE": str((self.log_dir / f"traces-{name}.jsonl").resolve())}
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "services.cli", *args],
            env={**self.env(), **traces, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Ctrl-C reaches only the launcher, which then stops the children in order.
            start_new_session=True,
            # Linux ties this to the thread that starts the child, so only the main thread uses it:
            # a child started from a short-lived thread would otherwise stop when that thread ends.
            preexec_fn=stop_with_parent if threading.current_thread() is threading.main_thread() else None,
        )

    def _wait_for_registry(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the registry did not answer within {seconds:.0f} seconds; see {self.log_dir}/registry.log")

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                last = self.last_log_line(name)
                raise RuntimeError(f"the {name} stopped (exit code {process.returncode}): {last}")

    def last_log_line(self, name: str) -> str:
        path = self.log_dir / f"{name}.log"
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()] if path.exists() else []
        return lines[-1] if lines else f"see {path}"

    def stop(self) -> None:
        # Services first, so they finish in-flight work while the broker is still there.
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for name, process in self.processes.items():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                self.report(f"  the {name} did not stop in time; stopping it forcefully")
                process.kill()
                process.wait()
        self.processes.clear()
        if self.kafka:
            self.kafka.stop()
            self.kafka = None

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
