"""Finds Debian's `kcat` (a Kafka client written in C, on librdkafka) for the outside-client test,
installing it first when we may: as root with apt-get; otherwise the test fails with one line
saying what to install."""

from __future__ import annotations

import os
import shutil
import subprocess

HOW_TO_INSTALL = "kcat is needed to read the topics as an outside client: run `sudo apt-get install -y kcat`."


def ensure() -> str:
    """The path to kcat, installed now if it is missing and we are root; RuntimeError otherwise."""
    if found := shutil.which("kcat"):
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(HOW_TO_INSTALL)
    quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", "kcat"], check=False, **quiet)
    if result.returncode != 0 or not (found := shutil.which("kcat")):
        raise RuntimeError(HOW_TO_INSTALL)
    return found
