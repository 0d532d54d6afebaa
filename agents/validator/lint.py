"""The lint: finds the seed's saga defects in Python and Elixir code, by reading its tree.

Rules (see ``findings`` for the ids): ``SAGA-L001`` stub compensations and handlers,
``SAGA-L002`` messages without ``correlation_id``/``causation_id`` (or with one ``None``
or freshly generated inside a step), ``SAGA-L003`` event names that break the naming
rules (always) or are not in the taxonomy (when one is given), ``SAGA-L004`` polling
loops. Python is read with ``ast`` (``_rule_*`` modules), Elixir (``.ex``, ``.exs``) with
tree-sitter (``_elixir_*`` modules); each rule's module docstring states what it matches.

Suppression: a comment ``# sagacrew: allow SAGA-L00x`` (several ids may follow,
separated by commas or spaces) on the line a finding points at (for a function, the
``def`` line; for a loop, the ``while``/``for`` line or the ``Enum`` call; for a call, its
first line) drops that finding, in either language. Use it only for a reviewed exception,
with a reason after the ids.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Callable, Collection
from pathlib import Path

from sagacrew.agents.validator import _rule_ids, _rule_polling, _rule_stub, _rule_taxonomy
from sagacrew.agents.validator._astutil import LintContext
from sagacrew.agents.validator._elixir_lint import lint_elixir
from sagacrew.agents.validator.errors import LintError, TaxonomyError
from sagacrew.agents.validator.findings import SYNTAX, Finding

_RULES: tuple[Callable[[LintContext], list[Finding]], ...] = (
    _rule_stub.check,
    _rule_ids.check,
    _rule_taxonomy.check,
    _rule_polling.check,
)
ELIXIR_SUFFIXES = (".ex", ".exs")
SUFFIXES = (".py", *ELIXIR_SUFFIXES)
"""The files ``lint_path`` reads in a folder."""
_ALLOW = re.compile(r"sagacrew:\s*allow\b(?P<ids>[^#]*)")
_RULE_ID = re.compile(r"SAGA-L\d{3}")


def lint_source(
    source: str, path: str = "<source>", *, taxonomy: Collection[str] | None = None
) -> list[Finding]:
    """Lint Python or Elixir source text; findings sorted by line, column and rule.

    ``path`` names the source in findings and picks the language: Elixir for ``.ex`` and
    ``.exs``, Python otherwise. ``taxonomy`` is the set of registered event names; without
    it ``SAGA-L003`` checks the naming rules only. Source that does not parse gives one
    ``SAGA-L000`` finding instead of raising.
    """
    if path.endswith(ELIXIR_SUFFIXES):
        findings, comments = lint_elixir(source, path, taxonomy)
    else:
        try:
            tree = ast.parse(source, filename=path)
        except (SyntaxError, ValueError) as exc:
            return [_syntax_finding(path, exc)]
        comments = _comments(source)
        ctx = LintContext(path=path, tree=tree, comments=comments, taxonomy=taxonomy)
        findings = [finding for rule in _RULES for finding in rule(ctx)]
    kept = [f for f in findings if f.rule not in _allowed(comments.get(f.line, ""))]
    return sorted(set(kept), key=lambda f: (f.path, f.line, f.column, f.rule, f.message))


def lint_path(path: Path, *, taxonomy: Collection[str] | None = None) -> list[Finding]:
    """Lint one file, or every ``.py``, ``.ex`` and ``.exs`` file under a folder (recursively,
    sorted).

    Files and directories whose name starts with ``.`` (``.venv``, ``.git``) and
    ``__pycache__`` are skipped. A file that cannot be decoded or parsed gives a
    ``SAGA-L000`` finding. Raises ``LintError`` when ``path`` does not exist or a file
    cannot be read.
    """
    if not path.exists():
        raise LintError(
            path, "no such file or directory", "give an existing .py/.ex/.exs file or folder"
        )
    files = [path] if path.is_file() else _source_files(path)
    findings: list[Finding] = []
    for file in files:
        findings.extend(_lint_file(file, taxonomy))
    return findings


def load_taxonomy(path: Path) -> set[str]:
    """The event names registered in a ``taxonomy.json``: ``{"events": [{"name": ...}]}``.

    Other keys of each entry (``version``, ``payload_schema``...) are ignored. Raises
    ``TaxonomyError`` when the file is missing, not JSON, or not shaped that way.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaxonomyError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    except ValueError as exc:
        raise TaxonomyError(path, f"not valid JSON ({exc})") from exc
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        raise TaxonomyError(path, 'no "events" list at the top level')
    names: set[str] = set()
    for index, entry in enumerate(events):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise TaxonomyError(path, f'events[{index}] has no "name" string')
        names.add(name)
    return names


def _source_files(folder: Path) -> list[Path]:
    def visible(file: Path) -> bool:
        parts = file.relative_to(folder).parts
        return not any(p.startswith(".") or p in {"__pycache__", "_build", "deps"} for p in parts)

    return sorted(
        f for f in folder.rglob("*") if f.suffix in SUFFIXES and f.is_file() and visible(f)
    )


def _lint_file(file: Path, taxonomy: Collection[str] | None) -> list[Finding]:
    try:
        if file.suffix in ELIXIR_SUFFIXES:
            source = file.read_text(encoding="utf-8")
        else:
            with tokenize.open(file) as handle:
                source = handle.read()
    except (SyntaxError, UnicodeDecodeError) as exc:
        return [_syntax_finding(str(file), exc)]
    except OSError as exc:
        raise LintError(
            file, f"cannot read the file ({exc.strerror or exc})", "check its permissions"
        ) from exc
    return lint_source(source, str(file), taxonomy=taxonomy)


def _syntax_finding(path: str, exc: Exception) -> Finding:
    line = getattr(exc, "lineno", None) or 1
    column = getattr(exc, "offset", None) or 1
    message = getattr(exc, "msg", None) or str(exc)
    return Finding(
        path,
        line,
        column,
        SYNTAX,
        f"cannot parse the file: {message}",
        "fix the syntax or encoding (the lint reads UTF-8 Python 3.11 or Elixir source)",
    )


def _comments(source: str) -> dict[int, str]:
    comments: dict[int, str] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string
    except (tokenize.TokenError, SyntaxError):
        return comments
    return comments


def _allowed(comment: str) -> set[str]:
    match = _ALLOW.search(comment)
    return set(_RULE_ID.findall(match.group("ids"))) if match else set()
