"""The README's "Testing your app" shows the test files in docs/testing/ whole: each copy
is the file's text, and the files are in pytest's test paths, so `make test` runs them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "testing"
SHOWN = re.compile(r"`(docs/testing/test_\w+\.py)`:\n\n```python\n(.*?)```\n", re.DOTALL)


def test_the_readme_shows_each_test_file_as_it_is() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = dict(SHOWN.findall(readme))
    files = {f"docs/testing/{path.name}": path for path in sorted(DOCS.glob("test_*.py"))}
    assert sorted(shown) == sorted(files)
    assert len(files) >= 2
    for name, path in files.items():
        assert shown[name] == path.read_text(encoding="utf-8"), f"the README's {name} differs"


def test_the_test_files_run_with_the_suite() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "docs/testing" in config["tool"]["pytest"]["ini_options"]["testpaths"]
    assert "docs/testing" in config["tool"]["mypy"]["files"]
