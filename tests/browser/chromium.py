"""Finds Debian's Chromium for the browser tests, installing it first when we may.

Playwright's own browser download cannot work on these machines, so the tests drive
Debian's `chromium`. `make test` runs this module first: where Chromium is missing and
we are root it installs `chromium` (and `fonts-liberation`, which gives pages Arial's
metrics, as people see them) with apt-get; otherwise it stops with one line saying what
to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PACKAGES = ("chromium", "fonts-liberation")
HOW_TO_INSTALL = "Chromium is needed for the browser tests: run `sudo apt-get install -y chromium fonts-liberation`."


def installed() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def ensure() -> str:
    """The path to Chromium, installed now if it is missing and we are root; RuntimeError otherwise."""
    if found := installed():
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(HOW_TO_INSTALL)
    print("Installing Debian's Chromium for the browser tests (first time only) ...", flush=True)
    quiet = {"stdout": subprocess.DEVNULL, "env": {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}}
    subprocess.run(["apt-get", "update", "-qq"], check=False, **quiet)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", *PACKAGES], check=False, **quiet)
    if result.returncode != 0 or not (found := installed()):
        raise RuntimeError(HOW_TO_INSTALL)
    return found


if __name__ == "__main__":
    try:
        ensure()
    except RuntimeError as exc:
        sys.exit(str(exc))
