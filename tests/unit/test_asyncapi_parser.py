"""schemas/asyncapi.yaml loads without an error or warning in the AsyncAPI Initiative's own parser
(@asyncapi/parser from npm, pinned in tests/asyncapi-parser/package-lock.json), which checks it
against the AsyncAPI 3.0 specification and its Kafka bindings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from services.contract import ASYNCAPI_PATH

pytestmark = pytest.mark.unit

CHECKER = Path(__file__).resolve().parents[1] / "asyncapi-parser"


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("Node.js is needed to check the AsyncAPI file: run `sudo apt-get install -y nodejs npm`.", pytrace=False)
    if not (CHECKER / "node_modules" / "@asyncapi" / "parser").exists():
        installed = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CHECKER, capture_output=True, text=True, timeout=300
        )
        assert installed.returncode == 0, f"npm ci in {CHECKER} failed: {installed.stderr[-1500:]}"
    return node


def check(node: str, path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([node, "check.mjs", str(path)], cwd=CHECKER, capture_output=True, text=True, timeout=120)


def test_the_asyncapi_file_loads_in_the_asyncapi_parser_with_no_problem(node: str) -> None:
    checked = check(node, ASYNCAPI_PATH)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "no problems" in checked.stdout


def test_the_parser_refuses_a_binding_kafka_does_not_have(node: str, tmp_path: Path) -> None:
    wrong = tmp_path / "asyncapi.yaml"
    wrong.write_text(ASYNCAPI_PATH.read_text().replace("- compact", "- compacted", 1))
    checked = check(node, wrong)
    assert checked.returncode == 1 and "cleanup.policy" in checked.stdout, checked.stdout + checked.stderr
