"""The shared real data (../shared/data or RNNKIT_DATA): where it is, and small slices of it."""

import os
from pathlib import Path

import pytest

DATA = Path(os.environ.get("RNNKIT_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")


def data_file(relative: str) -> Path:
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"real data absent: {path} (set RNNKIT_DATA to the shared data folder)")
    return path


def head_lines(path: Path, target: Path, count: int) -> Path:
    """The first and the last ``count`` lines (imdb's file is split on "\\n": it holds U+0085)."""
    lines = [line for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]
    target.write_text("\n".join(lines[:count] + lines[-count:]) + "\n", encoding="utf-8")
    return target


def head_blocks(path: Path, target: Path, count: int) -> Path:
    target.write_text("\n\n".join(path.read_text(encoding="utf-8").split("\n\n")[:count]) + "\n", encoding="utf-8")
    return target
