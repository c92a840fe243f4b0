"""A clone of the repository is self-contained: nothing reads or cites a path outside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {
    ".git",
    ".venv",
    "var",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
    ".hypothesis",
}
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".yaml", ".yml", ".cfg", ".ini", ".html", ".js", ".css", ".json", ""}
# Written in pieces so that this file does not match itself.
OUTSIDE = re.compile("|".join([r"\.\./" + "shared", "shared" + r"/data/", "shared" + r"/docs/", r"/work" + r"/"]))
DOC_CITATION = re.compile(r"\bdocs/[\w./-]+\.md\b")


def _text_files() -> list[Path]:
    """The repository's own text files: git's list in a clone, else every file outside the caches."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        candidates = [ROOT / name for name in listed.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        candidates = list(ROOT.rglob("*"))
    found = []
    for path in candidates:
        if any(part in SKIP_DIRS for part in path.relative_to(ROOT).parts):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES and "vendor" not in path.parts:
            found.append(path)
    return found


def test_it_reads_and_cites_no_path_outside_the_repository() -> None:
    offending = []
    for path in _text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE.search(line):
                offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert offending == []


def test_every_document_it_cites_is_in_the_repository() -> None:
    missing = set()
    for path in _text_files():
        if path.suffix not in {".py", ".md", ".yaml"}:
            continue
        for cited in DOC_CITATION.findall(path.read_text(encoding="utf-8", errors="replace")):
            if not (ROOT / cited).is_file():
                missing.add(f"{path.relative_to(ROOT)} cites {cited}")
    assert sorted(missing) == []


def test_the_readme_lists_every_environment_variable_the_settings_read() -> None:
    settings_text = (ROOT / "cancerplan" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r'env_(?:str|int|bool|list)\("([A-Z0-9_]+)"', settings_text))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table_rows = [line for line in readme.splitlines() if line.startswith("| `")]
    documented = {name for line in table_rows for name in re.findall(r"`([A-Z0-9_]+)`", line.split("|")[1])}
    assert len(read) > 10
    assert sorted(read - documented) == []
