"""YAML to plain Python data, remembering where every value came from.

The text is composed with PyYAML's ``SafeLoader`` (so every node keeps its start mark),
then walked by hand to build dicts, lists and scalars while recording, for each path
(e.g. ``("sagas", "create_order", "steps", 3, "invoke")``), the 1-based line and column
of the value and of its key. Duplicate mapping keys, which YAML would silently resolve
to the last one, are reported (the first one is kept). Mapping keys are always the
key's text (``yes:`` is the key ``"yes"``, not ``True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from sagacrew.agents.spec.errors import SpecError, SpecErrors
from sagacrew.agents.spec.violation import Path

__all__ = ["MAX_ALIAS_VALUES", "Path", "Position", "SourceMap", "load_yaml"]

MAX_ALIAS_VALUES = 100_000
"""More values than this copied through aliases is refused, against alias bombs."""

_MERGE_TAG = "tag:yaml.org,2002:merge"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_TAG_FIX = "remove the tag; the spec uses plain values only"


@dataclass(frozen=True)
class Position:
    """Where a value starts (1-based), where its key starts, and how it was written."""

    line: int
    column: int
    key_line: int
    key_column: int
    plain_one_line: bool = False
    """A plain (unquoted) scalar on one line: its text starts exactly at ``column``."""


@dataclass
class SourceMap:
    """Positions of every value in a YAML document, by path."""

    positions: dict[Path, Position] = field(default_factory=dict)

    def locate(self, path: Path, *, at_key: bool = False, offset: int = 0) -> tuple[int, int]:
        """The (line, column) for ``path``, tolerating components absent from the data.

        Walks ``path`` from the root and follows each component that exists, skipping
        the others (pydantic's union tags such as ``'int'``); a missing key therefore
        resolves to its parent mapping. ``'[key]'`` (pydantic's marker for an invalid
        dict key) and ``at_key`` point at the key instead of the value. ``offset`` is
        added to the column of a plain one-line scalar (for errors inside expressions).
        """
        current: Path = ()
        for part in path:
            if part == "[key]":
                at_key = True
                break
            if (*current, part) in self.positions:
                current = (*current, part)
        position = self.positions.get(current)
        if position is None:
            return (1, 1)
        if at_key:
            return (position.key_line, position.key_column)
        if offset and position.plain_one_line:
            return (position.line, position.column + offset)
        return (position.line, position.column)


def load_yaml(text: str, file: str) -> tuple[Any, SourceMap, list[SpecError]]:
    """Parse one YAML document; return its data, source map and non-fatal problems.

    Non-fatal problems are duplicate keys and non-scalar keys (reported, parsing goes
    on). Raises :class:`SpecErrors` for syntax errors, more than one document, unknown
    tags or recursive aliases. An empty document gives ``None``.
    """
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as error:
        raise SpecErrors([_syntax_error(error, text, file)]) from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as error:
            raise SpecErrors([_syntax_error(error, text, file)]) from None
        except RecursionError:
            raise SpecErrors([_too_deep(file)]) from None
        source = SourceMap()
        if root is None:
            return None, source, []
        builder = _Builder(loader, file, source)
        try:
            data = builder.build(root, (), None)
        except yaml.YAMLError as error:
            raise SpecErrors([_syntax_error(error, text, file)]) from None
        except RecursionError:
            raise SpecErrors([_too_deep(file)]) from None
        return data, source, builder.problems
    finally:
        loader.dispose()


class _Builder:
    """Builds plain data from composed nodes, recording positions and problems."""

    def __init__(self, loader: yaml.SafeLoader, file: str, source: SourceMap) -> None:
        self._loader = loader
        self._file = file
        self._source = source
        self._built: set[int] = set()
        self._copies = 0
        self._active: set[int] = set()
        self._entries: dict[int, tuple[list[tuple[Node, Node]], list[tuple[Node, Node]]]] = {}
        self.problems: list[SpecError] = []

    def build(self, node: Node, path: Path, key: Node | None) -> Any:
        if id(node) in self._built:
            self._copies += 1
            if self._copies > MAX_ALIAS_VALUES:
                raise SpecErrors([self._error(node, _TOO_MANY, _TOO_MANY_FIX)])
        self._built.add(id(node))
        if id(node) in self._active:
            raise SpecErrors(
                [
                    self._error(
                        node,
                        "an alias refers to the value that contains it (a recursive alias)",
                        "copy the values instead of using `*alias` inside its own anchor",
                    )
                ]
            )
        key_mark = (key if key is not None else node).start_mark
        plain = isinstance(node, ScalarNode) and node.style is None
        one_line = node.start_mark.line == node.end_mark.line
        self._source.positions[path] = Position(
            line=node.start_mark.line + 1,
            column=node.start_mark.column + 1,
            key_line=key_mark.line + 1,
            key_column=key_mark.column + 1,
            plain_one_line=plain and one_line,
        )
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        if node.tag not in (_SEQ_TAG, _MAP_TAG):
            raise SpecErrors([self._error(node, f"unknown YAML tag '{node.tag}'", _TAG_FIX)])
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [
                    self.build(item, (*path, index), None) for index, item in enumerate(node.value)
                ]
            if isinstance(node, MappingNode):
                return self._mapping(node, path)
        finally:
            self._active.discard(id(node))
        raise SpecErrors([self._error(node, "unsupported YAML node", _SYNTAX_FIX)])

    def _scalar(self, node: ScalarNode) -> Any:
        if node.tag not in self._loader.yaml_constructors:
            raise SpecErrors([self._error(node, f"unknown YAML tag '{node.tag}'", _TAG_FIX)])
        return self._loader.construct_object(node, deep=True)

    def _mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        inherited, explicit = self._split_merges(node)
        result: dict[str, Any] = {}
        seen: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in explicit:
            name = self._key_text(key_node)
            if name is None:
                continue
            if name in seen:
                first = seen[name][0].start_mark
                self.problems.append(
                    self._error(
                        key_node,
                        f"duplicate key '{name}' (first written at line {first.line + 1}; "
                        "YAML would silently keep only the last one)",
                        f"remove one of the two '{name}' entries or rename it",
                    )
                )
                continue
            seen[name] = (key_node, value_node)
        for key_node, value_node in inherited:
            name = self._key_text(key_node, report=False)
            if name is not None and name not in seen:
                result[name] = self.build(value_node, (*path, name), key_node)
        for name, (key_node, value_node) in seen.items():
            result[name] = self.build(value_node, (*path, name), key_node)
        return result

    def _split_merges(
        self, node: MappingNode
    ) -> tuple[list[tuple[Node, Node]], list[tuple[Node, Node]]]:
        """(inherited entries from ``<<`` merges, explicit entries), computed once per node."""
        cached = self._entries.get(id(node))
        if cached is not None:
            return cached
        explicit = [(key, value) for key, value in node.value if key.tag != _MERGE_TAG]
        self._loader.flatten_mapping(node)
        explicit_ids = {id(key) for key, _ in explicit}
        inherited = [(key, value) for key, value in node.value if id(key) not in explicit_ids]
        self._entries[id(node)] = (inherited, explicit)
        return inherited, explicit

    def _key_text(self, key: Node, *, report: bool = True) -> str | None:
        if isinstance(key, ScalarNode):
            return str(key.value)
        if report:
            self.problems.append(
                self._error(
                    key,
                    "a mapping key must be a plain name, not a list or mapping",
                    "write a name followed by a colon, e.g. `order:`",
                )
            )
        return None

    def _error(self, node: Node, message: str, fix: str) -> SpecError:
        mark = node.start_mark
        return SpecError(self._file, mark.line + 1, mark.column + 1, message, fix)


_TOO_MANY = f"aliases copy more than {MAX_ALIAS_VALUES} values (an alias bomb?)"
_TOO_MANY_FIX = "write the values out instead of nesting aliases of aliases"
_SYNTAX_FIX = "fix the YAML syntax here (indentation with spaces, quotes, brackets)"

_PROBLEM_FIXES: tuple[tuple[str, str], ...] = (
    ("'\\t'", "indent with spaces, not tabs"),
    (
        "mapping values are not allowed",
        "quote the value if it contains ': ', or fix the indentation",
    ),
    ("could not find expected ':'", "write `key: value` with a space after the colon"),
    ("undefined alias", "define the anchor `&name` before using `*name`"),
    ("expected a single document", "keep one spec per file (remove the extra `---` document)"),
    ("duplicate anchor", "give each anchor (`&name`) a unique name"),
    ("expected <block end>", "align this line with its siblings (indentation is off)"),
    ("unexpected end of stream", "close the quote or bracket opened earlier"),
    ("found unknown escape", "use single quotes, or escape the backslash as `\\\\`"),
    ("unacceptable character", "remove the control character (the file must be plain UTF-8 text)"),
    ("could not determine a constructor", "remove the tag; the spec uses plain values only"),
    ("expected a mapping for merging", "merge (`<<:`) only mappings"),
    ("expected a mapping or list of mappings", "merge (`<<:`) only mappings"),
    ("expected ',' or ']'", "separate list items with commas and close the list with `]`"),
    ("expected ',' or '}'", "separate entries with commas and close the mapping with `}`"),
)


def _syntax_error(error: yaml.YAMLError, text: str, file: str) -> SpecError:
    problem = "invalid YAML"
    line, column = 1, 1
    if isinstance(error, yaml.MarkedYAMLError):
        context = error.context or ""
        problem = error.problem or context or problem
        if context.startswith("expected a single document"):
            problem = context
        mark = error.problem_mark or error.context_mark
        if mark is not None:
            line, column = mark.line + 1, mark.column + 1
    elif isinstance(error, yaml.reader.ReaderError):
        problem = f"unacceptable character #x{error.character:04x}: {error.reason}"
        before = text[: error.position]
        line = before.count("\n") + 1
        column = error.position - (before.rfind("\n") + 1) + 1
    problem = " ".join(problem.split())
    if problem.startswith("expected a single document"):
        problem = "the file holds more than one YAML document"
    fix = next((fix for needle, fix in _PROBLEM_FIXES if needle in problem), _SYNTAX_FIX)
    return SpecError(file, line, column, f"YAML syntax error: {problem}", fix)


def _too_deep(file: str) -> SpecError:
    return SpecError(
        file, 1, 1, "the YAML is nested too deeply", "flatten the structure; specs are shallow"
    )
