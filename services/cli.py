"""The `pairing` command: run the product, run one service, solve a cohort file."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError

from services.common.errors import describe

if TYPE_CHECKING:
    from services.common.settings import KafkaSettings

T = TypeVar("T")


def _run_async(work: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, imported only by the commands that need it: `pairing match` starts quicker without it."""
    import asyncio

    return asyncio.run(work)


class StartupError(Exception):
    """A problem a person can fix; shown as one plain line, without a traceback."""


def settings_prefixes() -> dict[str, str]:
    """Settings class name -> environment variable prefix, to name the variable to fix."""
    from services.common.settings import KafkaSettings, OpsSettings, ReliabilitySettings
    from services.matcher.config import MatcherSettings
    from services.notifier.config import NotifierSettings
    from services.registry.config import RegistrySettings

    classes = (KafkaSettings, ReliabilitySettings, OpsSettings, MatcherSettings, NotifierSettings, RegistrySettings)
    return {cls.__name__: cls.model_config.get("env_prefix", "") for cls in classes}


def explain_startup_failure(exc: BaseException) -> str | None:
    """One plain line for the failures people meet when starting a service."""
    from aiokafka.errors import KafkaConnectionError
    from sqlalchemy.exc import ArgumentError, OperationalError

    from services.common.crypto import EncryptionKeyError

    if isinstance(exc, (StartupError, EncryptionKeyError)):
        return str(exc)
    import httpx

    from services.registry.client import RegistryError

    if isinstance(exc, RegistryError):
        return str(exc)
    if isinstance(exc, httpx.ConnectError):
        return "Cannot reach the registry. Is `make run` running, and is --url right?"
    if isinstance(exc, ValidationError):
        prefix = settings_prefixes().get(exc.title)
        if prefix is None:
            return None
        problems = "; ".join(f"{prefix}{d['field'].upper()} {d['message']}" for d in describe(exc.errors()))
        key_hint = " Make a key with `pairing new-key`." if "_KEYS" in problems else ""
        return f"A setting is wrong: {problems}. Fix it in the environment and start again.{key_hint}"
    if isinstance(exc, KafkaConnectionError):
        return (
            "Cannot reach the Kafka broker. Start it, or set KAFKA_BOOTSTRAP_SERVERS to where it runs "
            "(for example 127.0.0.1:9092)."
        )
    if isinstance(exc, (OperationalError, ConnectionRefusedError)) or exc.__class__.__name__.startswith("InvalidCatalog"):
        return (
            f"Cannot open the database ({exc.__class__.__name__}). Check that it is running and that "
            "the *_DATABASE_URL setting is right."
        )
    if isinstance(exc, ArgumentError):
        return "A database URL is not valid. Use postgresql://user@host:5432/name or sqlite:///path/to/file.db."
    if isinstance(exc, OSError) and exc.errno in (98, 48):
        return "The port is already in use. Stop what uses it, or choose another port."
    if isinstance(exc, RuntimeError):
        return str(exc)
    return None


async def preflight(database_url: str, kafka: KafkaSettings) -> None:
    """Check the database and the broker before starting, so a failure is one plain line."""
    from services.common.kafka import ensure_topics
    from services.common.store import make_engine

    # The checks below say what is wrong themselves; the Kafka client's own log lines would only repeat it.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    engine = make_engine(database_url)
    try:
        async with engine.connect():
            pass
    finally:
        await engine.dispose()
    await ensure_topics(kafka)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def exit_cleanly_after_graceful_shutdown() -> None:
    """uvicorn shuts down gracefully on SIGTERM or Ctrl-C, then raises the signal again so
    the default handler ends the process with it. A handler that does nothing lets the
    process end normally instead (exit code 0), which is what process managers expect."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: None)


def serve(service: str) -> None:
    from services.common.logs import configure_logging
    from services.common.tracing import configure_tracing

    # Every file the service writes (its database, logs, traces, letters, texts and tasks) is its owner's only.
    os.umask(0o077)
    configure_logging(service)
    configure_tracing(service)
    {"registry": _serve_registry, "matcher": _serve_matcher, "notifier": _serve_notifier}[service]()


def _serve_registry() -> None:
    import uvicorn

    from services.common.embedded import port_is_open
    from services.registry.app import create_app
    from services.registry.config import RegistrySettings

    settings = RegistrySettings()
    if port_is_open(settings.http_host, settings.http_port):
        raise StartupError(f"Port {settings.http_port} is already in use; stop what uses it or set REGISTRY_HTTP_PORT.")
    _run_async(preflight(settings.database_url, settings.kafka))
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=settings.http_host, port=settings.http_port, log_level="warning")
    )
    exit_cleanly_after_graceful_shutdown()
    _run_async(server.serve())
    if not server.started:
        raise StartupError(f"The registry could not start on port {settings.http_port}; see the lines above.")


def _serve_matcher() -> None:
    from services.matcher.app import create_app
    from services.matcher.config import MatcherSettings

    settings = MatcherSettings()
    _run_async(preflight(settings.database_url, settings.kafka))
    serve_asgi(create_app(settings), "matcher")


def _serve_notifier() -> None:
    from services.notifier.app import create_app
    from services.notifier.config import NotifierSettings

    settings = NotifierSettings()
    _run_async(preflight(settings.database_url, settings.kafka))
    serve_asgi(create_app(settings), "notifier")


def serve_asgi(app: Callable[..., Any], service: str) -> None:
    """Run a matcher or notifier with its /health, /live and /metrics answered on OPS_PORT."""
    import uvicorn

    from services.common.embedded import port_is_open
    from services.common.settings import OpsSettings

    ops = OpsSettings()
    if port_is_open(ops.host, ops.port):
        raise StartupError(f"Port {ops.port} is already in use; stop what uses it or set OPS_PORT for the {service}.")
    server = uvicorn.Server(uvicorn.Config(app, host=ops.host, port=ops.port, log_level="warning"))
    exit_cleanly_after_graceful_shutdown()
    _run_async(server.serve())
    if not server.started:
        raise StartupError(f"The {service} could not start; see the lines above.")


def smtp_sink(port: int, maildir: Path) -> None:
    from services.common.smtp_sink import start_sink

    controller = start_sink(maildir, port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


def run(port: int, data_dir: Path, kafka: str = "tansu") -> None:
    from services.launcher import Stack

    def stop_now(*_: object) -> None:
        raise KeyboardInterrupt

    # Ctrl-C or a SIGTERM from a process manager both stop everything in order.
    signal.signal(signal.SIGINT, stop_now)
    signal.signal(signal.SIGTERM, stop_now)
    stack = Stack(data_dir=data_dir, http_port=port, ops_ports={"matcher": 9101, "notifier": 9102}, broker=kafka)
    if kafka == "apache":
        stack.group_prefix = "pairing"  # the broker keeps its topics and offsets: each service carries on where it stopped
    stack.start()
    email, password = stack.admin
    print(f"\nThe pairing service is running. Managers' pages: {stack.base_url}/manage")
    print(f"Sign in as {email} with the password {password} (kept in {stack.data_dir}/secrets.json).")
    print("The first time, the pages show a key for an authenticator app on your phone (a second factor): have one ready.")
    print(
        f"The API guide is at {stack.base_url}/docs; programs sign in with an API token "
        f"(the first admin's is in {stack.data_dir}/secrets.json)."
    )
    print(f"Messages sent to people are saved in {stack.data_dir}. Logs are in {stack.log_dir}.")
    print(
        f"Health and metrics: {stack.base_url}/health and /metrics; the matcher's and notifier's at "
        + " and ".join(f"http://127.0.0.1:{port}/metrics" for port in stack.ops_ports.values())
        + "."
    )
    print("Press Ctrl-C to stop.", flush=True)
    try:
        while True:
            stack.check_alive()
            threading.Event().wait(1)
    except KeyboardInterrupt:
        print("\nStopping ...", flush=True)
    finally:
        stack.stop()
        print("Stopped.")


def trace_command(correlation: str, folder: Path) -> None:
    from rich.console import Console
    from rich.tree import Tree

    from services.common.tracing import spans_of

    spans = spans_of(correlation, folder)
    console = Console()
    if not spans:
        console.print(f"No traces mention {correlation} in {folder}. Is the id right, and was the service run with TRACES_FILE?")
        return
    children: dict[str | None, list[dict]] = {}
    ids = {s["span_id"] for s in spans}
    for span in spans:
        children.setdefault(span["parent_id"] if span["parent_id"] in ids else None, []).append(span)

    def add(node: Tree, parent: str | None) -> None:
        for span in children.get(parent, []):
            took = (span["end"] - span["start"]) / 1e6
            branch = node.add(f"{span['service']}: {span['name']} ({took:.1f} ms)")
            add(branch, span["span_id"])

    root = Tree(f"{correlation}: {len(spans)} steps across {len({s['service'] for s in spans})} services")
    add(root, None)
    console.print(root)


def rekey_command(service: str) -> None:
    import importlib

    from services.common.crypto import Cipher
    from services.common.rekey import rekey

    settings_class = {
        "registry": "services.registry.config:RegistrySettings",
        "matcher": "services.matcher.config:MatcherSettings",
        "notifier": "services.notifier.config:NotifierSettings",
    }[service]
    module, name = settings_class.split(":")
    settings = getattr(importlib.import_module(module), name)()
    metadata = importlib.import_module(f"services.{service}.adapters.orm").Base.metadata
    count = _run_async(rekey(settings.database_url, metadata, Cipher(settings.encryption_keys)))
    print(f"Re-encrypted {count} stored value(s) of the {service} with its first key. The older keys can now be removed.")


def dead_letter_command(action: str, offsets: list[int] | None, consumer: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    from services.common.deadletters import read_dead_letters, replay
    from services.common.settings import KafkaSettings

    kafka = KafkaSettings()
    letters = _run_async(read_dead_letters(kafka))
    chosen = [
        letter
        for letter in letters
        if (not offsets or letter.offset in offsets) and (not consumer or letter.consumer == consumer)
    ]
    console = Console()
    if action == "list":
        if not chosen:
            console.print("There are no dead letters: every event was handled.")
            return
        table = Table(title=f"Dead letters ({len(chosen)})")
        for column in ("offset", "consumer", "from", "tries", "what went wrong"):
            table.add_column(column)
        for letter in chosen:
            where = f"{letter.original_topic} partition {letter.original_partition} offset {letter.original_offset}"
            if letter.source:  # not read from a record: the notifier's schedule of messages
                where = f"{letter.original_topic}, from the {letter.consumer}'s {letter.source}"
            table.add_row(str(letter.offset), letter.consumer, where, str(letter.attempts), letter.error)
        console.print(table)
        return
    if not chosen:
        console.print("Nothing matched, so nothing was replayed.")
        return
    count = _run_async(replay(kafka, chosen))
    console.print(f"Sent {count} event(s) back to their topics to be handled again.")


def _run(args: argparse.Namespace) -> None:
    run(args.port, args.data, args.kafka)


def _demo(args: argparse.Namespace) -> None:
    from services.demo import demo

    demo(args.port, args.data)


def _demo_journey(args: argparse.Namespace) -> None:
    from services.demo_journey import demo_journey

    demo_journey(args.port, args.data)


def _serve(args: argparse.Namespace) -> None:
    serve(args.service)


def _smtp_sink(args: argparse.Namespace) -> None:
    smtp_sink(args.port, args.maildir)


def _match(args: argparse.Namespace) -> None:
    from services.matcher.offline import CohortFileError, run_match, summary, write_json_schema

    if args.schema:
        print(f"JSON Schema of the cohort file written to {write_json_schema(args.schema)}")
    elif args.cohort is None or args.output is None:
        args.parser.error("give a cohort file and -o RESULT.json, or --schema FILE")
    else:
        try:
            result = run_match(args.cohort, args.output, progress=True)
        except CohortFileError as exc:
            raise StartupError(str(exc)) from exc
        print(summary(args.cohort, args.output, result))


def _asyncapi(args: argparse.Namespace) -> None:
    from services.contract import check_or_write_contracts

    check_or_write_contracts(check=args.check)


def _dlq(args: argparse.Namespace) -> None:
    dead_letter_command(args.action, args.offset, args.consumer)


def _queue(args: argparse.Namespace) -> None:
    from services.console import queue

    queue(args.url, args.data, args.once)


def _round(args: argparse.Namespace) -> None:
    from services.console import launch

    launch(args.url, args.data, args.spec)


def _trace(args: argparse.Namespace) -> None:
    trace_command(args.correlation_id, args.logs)


def _messages(args: argparse.Namespace) -> None:
    from services.notifier.gallery import write_gallery

    print(f"Every message, in every format: open {write_gallery(args.folder)}")


def _rekey(args: argparse.Namespace) -> None:
    rekey_command(args.service)


def _new_key(args: argparse.Namespace) -> None:
    from services.common.crypto import new_key

    print(new_key())


def command_line() -> argparse.ArgumentParser:
    """Each command's arguments, and the function that carries it out (`handle`)."""
    parser = argparse.ArgumentParser(prog="pairing", description="Pairs patient and carer leaders with professionals.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("run", help="run the whole product on this machine")
    p.set_defaults(handle=_run)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data", type=Path, default=Path("var"), help="folder for local databases, messages and logs")
    p.add_argument(
        "--kafka",
        choices=["tansu", "apache"],
        default="tansu",
        help="tansu: the embedded broker, in memory; apache: Apache Kafka, keeping its data in the data folder",
    )
    p = commands.add_parser("demo", help="run a pairing round on a built-in sample and show the result")
    p.set_defaults(handle=_demo)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data", type=Path, default=Path("var/demo"))
    p = commands.add_parser("demo-journey", help="run a programme through simulated months and keep every message")
    p.set_defaults(handle=_demo_journey)
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--data", type=Path, default=Path("var/journey"))
    p = commands.add_parser("serve", help="run one service (settings come from the environment)")
    p.set_defaults(handle=_serve)
    p.add_argument("service", choices=["registry", "matcher", "notifier"])
    p = commands.add_parser("smtp-sink", help="run a local email server that saves every message to a folder")
    p.set_defaults(handle=_smtp_sink)
    p.add_argument("--port", type=int, default=8025)
    p.add_argument("--maildir", type=Path, default=Path("var/mail"))
    p = commands.add_parser("match", help="solve one round from a cohort file, without broker or database")
    p.set_defaults(handle=_match, parser=p)
    p.add_argument("cohort", type=Path, nargs="?", help="the cohort file (JSON)")
    p.add_argument("-o", "--output", type=Path, help="where to write the result file (JSON)")
    p.add_argument("--schema", type=Path, metavar="FILE", help="write the JSON Schema of the cohort file to FILE and stop")
    p = commands.add_parser("asyncapi", help="write (or --check) the AsyncAPI and OpenAPI documents")
    p.set_defaults(handle=_asyncapi)
    p.add_argument("--check", action="store_true")
    p = commands.add_parser("new-key", help="print a new encryption key")
    p.set_defaults(handle=_new_key)
    p = commands.add_parser("queue", help="watch the match queue in the terminal")
    p.set_defaults(handle=_queue)
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--data", type=Path, default=Path("var"), help="where make run keeps its sign-in details")
    p.add_argument("--once", action="store_true", help="print the queue once and stop")
    p = commands.add_parser("round", help="launch a round from a file and follow it until it is proposed")
    p.set_defaults(handle=_round)
    p.add_argument("action", choices=["launch"])
    p.add_argument("spec", type=Path, help="a JSON file with the round's details (as POST /rounds takes)")
    p.add_argument("--url", default="http://127.0.0.1:8000")
    p.add_argument("--data", type=Path, default=Path("var"))
    p = commands.add_parser("trace", help="show how one round travelled through the services")
    p.set_defaults(handle=_trace)
    p.add_argument("correlation_id", help="a round id (or leader id)")
    p.add_argument("--logs", type=Path, default=Path("var/logs"), help="the folder with traces-*.jsonl")
    p = commands.add_parser("messages", help="write every kind of message in every format into a folder to look at")
    p.set_defaults(handle=_messages)
    p.add_argument("folder", type=Path, nargs="?", default=Path("var/messages"), help="where to write them (emptied first)")
    p = commands.add_parser("rekey", help="re-encrypt a service's stored data with the first of its keys")
    p.set_defaults(handle=_rekey)
    p.add_argument("service", choices=["registry", "matcher", "notifier"])
    p = commands.add_parser("dlq", help="list or replay events that consumers could not handle")
    p.set_defaults(handle=_dlq)
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("--offset", type=int, action="append", help="replay only this dead letter (repeat for more)")
    p.add_argument("--consumer", help="replay only what this consumer gave up on, for example notifier")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = command_line().parse_args(argv)
    try:
        args.handle(args)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:
        message = explain_startup_failure(exc)
        if message is None:
            raise
        print(f"pairing {args.command}: {message}", file=sys.stderr)
        sys.exit(2)
    if argv is None and args.command == "match":
        _exit_without_teardown()


def _exit_without_teardown() -> None:
    """End `pairing match` once its result file is written and its summary shown, without Python's
    teardown: freeing a national round's million objects one by one took a third of a second. Only
    for the command itself (argv None), never when main() is called in a test's own process."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
