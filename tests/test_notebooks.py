"""Every notebook runs top to bottom on small settings (code cells executed in order).

No Jupyter is needed: the cells are plain Python. A notebook that stops working for
students fails here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.chdir(path.parent)
    monkeypatch.setenv("FBSIM_NOTEBOOK_SMALL", "1")
    cells = json.loads(path.read_text())["cells"]
    namespace: dict[str, object] = {"__name__": "__notebook__"}
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        exec(compile(source, f"{path.name}[cell {i}]", "exec"), namespace)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2
    assert os.environ.get("FBSIM_NOTEBOOK_SMALL", "1") in ("0", "1")
