"""Writing reports: UTC stamps in file names, never overwriting an earlier report."""

from __future__ import annotations

import time
from pathlib import Path


def utc(at: float) -> str:
    """``at`` (epoch seconds) as ISO 8601 UTC, e.g. ``2025-01-31T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def write_pair(
    directory: Path, stem: str, at: float, markdown: str, json_text: str
) -> tuple[Path, Path]:
    """Write ``<stem>-<UTC stamp>.md`` and ``.json`` in ``directory`` (created if needed).

    A report of the same stem and second gets a ``-2``, ``-3``... suffix: nothing is
    overwritten. Returns the two paths.
    """
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(at))}"
    name, n = base, 1
    while (directory / f"{name}.md").exists() or (directory / f"{name}.json").exists():
        n += 1
        name = f"{base}-{n}"
    md, js = directory / f"{name}.md", directory / f"{name}.json"
    md.write_text(markdown, "utf-8")
    js.write_text(json_text, "utf-8")
    return md, js
