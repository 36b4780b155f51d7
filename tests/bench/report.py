"""One benchmark report, docs/benchmarks.md, with a section per area.

Each `make bench-<area>` rewrites only its own section, so the report always
shows the latest run of every area, each with the machine it ran on.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
from pathlib import Path

REPORT = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Written by `make bench` (every area) or `make bench-<area>` (one section).
Each figure comes from a run on the machine named in its section; ratios
compare against a baseline measured in the same process, so they travel
better between machines than the seconds do. These are measurements, not
tests: nothing fails when a number is slow.
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal")).split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB memory"
    except (OSError, StopIteration, ValueError):
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}; Python {platform.python_version()} on {platform.system()}; "
        f"commit {commit or 'unknown'}; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )


def write_section(area: str, body: str) -> Path:
    """Replace the section for `area` in the report (or add it), keeping the others."""
    start, end = f"<!-- {area}:start -->", f"<!-- {area}:end -->"
    section = f"{start}\n## {area}\n\nMachine: {machine()}\n\n{body.strip()}\n{end}"
    text = REPORT.read_text() if REPORT.exists() else HEADER
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section + "\n"
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(text)
    return REPORT


def table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
