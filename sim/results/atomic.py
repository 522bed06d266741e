"""Atomic file writes: a file is either complete or absent, never half written."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomic(path: Path, write: Callable[[IO[Any]], object], binary: bool = False) -> None:
    """Write via a temporary file in the same folder, then rename over ``path``.

    An error of the file system (a full disk, a file size limit) names ``path`` when
    the system did not name a file, so the user learns where it happened.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        _name(exc, path)
        raise
    try:
        handle: IO[Any] = (os.fdopen(fd, "wb") if binary
                           else os.fdopen(fd, "w", encoding="utf-8", newline=""))
        with handle as f:
            write(f)
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            _name(exc, path)
        raise


def _name(exc: OSError, path: Path) -> None:
    if exc.filename is None or isinstance(exc.filename, int):
        exc.filename = str(path)


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` as indented JSON, atomically."""
    write_atomic(path, lambda f: f.write(json.dumps(data, indent=1, allow_nan=False) + "\n"))
