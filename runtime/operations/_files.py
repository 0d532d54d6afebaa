"""Writing reports: UTC stamps in file names, never overwriting an earlier report.

The incident and rollback reports derive from :class:`SystemReport`: frozen dataclasses
that :func:`write_report` writes as Markdown and as stable JSON.
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import KW_ONLY, asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar


@dataclass(frozen=True)
class SystemReport(ABC):
    """A report on one system, for people (:meth:`to_markdown`) and as plain data."""

    system: str
    """The system's name."""
    _: KW_ONLY
    markdown_path: Path | None = None
    """Where the Markdown report is written (``None`` until :func:`write_report`)."""
    json_path: Path | None = None
    """Where the JSON report is written (``None`` until :func:`write_report`)."""

    @abstractmethod
    def to_markdown(self) -> str:
        """The report for people."""

    def to_dict(self) -> dict[str, Any]:
        """Plain data: field names as keys, the two paths as strings."""
        data = asdict(self)
        for key in ("markdown_path", "json_path"):
            data[key] = None if data[key] is None else str(data[key])
        return data

    def to_json(self) -> str:
        """Stable JSON of :meth:`to_dict`: sorted keys, two-space indent, trailing newline."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"


R = TypeVar("R", bound=SystemReport)


def utc(at: float) -> str:
    """``at`` (epoch seconds) as ISO 8601 UTC, e.g. ``2025-01-31T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def write_report(report: R, directory: Path, stem: str, at: float) -> R:
    """Write ``<stem>-<UTC stamp>.md`` and ``.json`` in ``directory`` (created if needed);
    return the report with its paths set (the JSON names them too).

    A report of the same stem and second gets a ``-2``, ``-3``... suffix: nothing is
    overwritten.
    """
    directory.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(at))}"
    name, n = base, 1
    while (directory / f"{name}.md").exists() or (directory / f"{name}.json").exists():
        n += 1
        name = f"{base}-{n}"
    md, js = directory / f"{name}.md", directory / f"{name}.json"
    md.write_text(report.to_markdown(), "utf-8")
    written = replace(report, markdown_path=md, json_path=js)
    js.write_text(written.to_json(), "utf-8")
    return written
