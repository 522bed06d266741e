"""Static checks run with the tests: ruff (lint, numpy docstrings, banned stdlib random)
and mypy. Both come from the project's dev dependencies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "sim", "tests", "bench"],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_clean():
    done = subprocess.run([sys.executable, "-m", "mypy", "sim"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
