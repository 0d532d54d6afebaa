"""Writing reports: UTC stamps in file names, never overwriting an earlier report.

The incident and rollback reports are frozen dataclasses with ``markdown_path`` and
``json_path`` fields; :func:`report_data`, :func:`report_json` and :func:`write_report`
serve both.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar


class Report(Protocol):
    """A frozen dataclass report with ``markdown_path`` and ``json_path`` fields."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    def to_markdown(self) -> str: ...

    def to_json(self) -> str: ...


R = TypeVar("R", bound=Report)


def utc(at: float) -> str:
    """``at`` (epoch seconds) as ISO 8601 UTC, e.g. ``2025-01-31T12:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def report_data(report: Report) -> dict[str, Any]:
    """The report as plain data: field names as keys, the two paths as strings."""
    data = asdict(report)
    for key in ("markdown_path", "json_path"):
        data[key] = None if data[key] is None else str(data[key])
    return data


def report_json(report: Report) -> str:
    """Stable JSON of :func:`report_data`: sorted keys, two-space indent, trailing newline."""
    return json.dumps(report_data(report), indent=2, sort_keys=True) + "\n"


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
