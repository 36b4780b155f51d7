"""Every test module says which tier it is in, so `make test-unit` and the others leave none out.

The tiers are the markers pyproject.toml registers for them; a module declares its tier
with a module-level `pytestmark` (alone, or in a list with markers that are not tiers).
Read from the source, so no test module is imported here.
"""

import ast
import tomllib
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TIERS = {"unit", "integration", "e2e", "chaos"}


def registered_markers() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {line.split(":")[0].strip() for line in config["tool"]["pytest"]["ini_options"]["markers"]}


def module_paths() -> list[Path]:
    return sorted(p for p in (ROOT / "tests").rglob("test_*.py") if "node_modules" not in p.parts)


def declared_marks(source: str) -> set[str] | None:
    """The pytest.mark names in the module's `pytestmark`, or None when it has none."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets):
            return {
                n.attr
                for n in ast.walk(node.value)
                if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Attribute) and n.value.attr == "mark"
            }
    return None


def test_each_tier_is_a_registered_marker():
    assert registered_markers() >= TIERS


def test_every_test_module_declares_exactly_one_tier():
    modules = module_paths()
    assert len(modules) > 50, "the search for test modules found too few"
    wrong = {}
    for path in modules:
        marks = declared_marks(path.read_text())
        tiers = (marks or set()) & TIERS
        if len(tiers) != 1:
            wrong[str(path.relative_to(ROOT))] = "no pytestmark" if marks is None else f"tiers {sorted(tiers)}"
    assert wrong == {}


def test_the_check_reads_a_tier_and_notices_one_missing():
    assert declared_marks("import pytest\npytestmark = [pytest.mark.e2e, pytest.mark.kafka_cluster]\n") == {
        "e2e",
        "kafka_cluster",
    }
    assert declared_marks("import pytest\n\ndef test_x():\n    pytestmark = pytest.mark.unit\n") is None
