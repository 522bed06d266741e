"""Atomic file writes: a file is either complete or absent, never half written."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def umask() -> int:
    """The process's file mode creation mask, read without changing it where possible."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and put back at once
    os.umask(mask)
    return mask


def write_atomic(path: Path, write: Callable[[IO[Any]], object], binary: bool = False) -> None:
    """Write via a temporary file in the same folder, then rename over ``path``.

    The file gets the permissions any new file would (``0o666`` less the umask), not
    the private ``0o600`` of a temporary file. An error of the file system (a full
    disk, a file size limit) names ``path`` when the system did not name a file, so the
    user learns where it happened.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        _name(exc, path)
        raise
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666 & ~umask())
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
