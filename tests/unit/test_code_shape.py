"""The shape the code keeps (docs/architecture.md): no file under services/ grows past 500 lines,
so each stays readable in one sitting; a longer one is split along its seams. And no test module
imports from another: what tests share lives in conftest files or helper modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SERVICES = Path(__file__).resolve().parents[2] / "services"
TESTS = SERVICES.parent / "tests"
LONGEST = 500
# A module path whose last part is a test module: tests.integration.test_publishing, or test_publishing alone.
A_TEST_MODULE = re.compile(r"(^|\.)test_\w+$")


def test_no_file_under_services_is_longer_than_500_lines():
    too_long = {
        str(path.relative_to(SERVICES.parent)): lines
        for path in SERVICES.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > LONGEST
    }
    assert too_long == {}, f"split these along their seams (at most {LONGEST} lines each): {too_long}"


def imports_of_test_modules(source: str) -> list[str]:
    """The test modules a module's source imports from, wherever the import is written."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            named = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            named = [alias.name for alias in node.names]
        else:
            continue
        found += [name for name in named if A_TEST_MODULE.search(name)]
    return found


def test_the_check_finds_imports_from_test_modules():
    assert imports_of_test_modules("from tests.browser.test_journeys import sign_in") == ["tests.browser.test_journeys"]
    assert imports_of_test_modules("def f():\n    import tests.chaos.test_chaos as chaos") == ["tests.chaos.test_chaos"]
    assert imports_of_test_modules("from tests.integration import test_publishing") == ["tests.integration.test_publishing"]
    assert imports_of_test_modules("from tests.integration.helpers import publish_two_pairs\nimport pytest") == []


def test_no_test_module_imports_from_another():
    importing = {
        str(path.relative_to(TESTS.parent)): imported
        for path in TESTS.rglob("test_*.py")
        if (imported := imports_of_test_modules(path.read_text(encoding="utf-8")))
    }
    assert importing == {}, f"move what these import into a conftest.py or a helper module under tests/: {importing}"
