"""The shape the code keeps (docs/architecture.md): no file under services/ grows past 500 lines,
so each stays readable in one sitting; a longer one is split along its seams."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SERVICES = Path(__file__).resolve().parents[2] / "services"
LONGEST = 500


def test_no_file_under_services_is_longer_than_500_lines():
    too_long = {
        str(path.relative_to(SERVICES.parent)): lines
        for path in SERVICES.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > LONGEST
    }
    assert too_long == {}, f"split these along their seams (at most {LONGEST} lines each): {too_long}"
