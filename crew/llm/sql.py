"""Checks for LLM-proposed SQL: one read-only ``SELECT`` over the runtime's own tables.

A proposed query passes only if it is a single ``SELECT`` (or non-recursive ``WITH ...
SELECT``) with no statement separator, comment, write, DDL, ``PRAGMA``, ``ATTACH`` or
transaction keyword, uses only ``?`` placeholders, avoids functions that are dangerous or
SQLite-only (so it stays portable to PostgreSQL), is authorized by SQLite to read nothing
but the runtime's tables (``runtime/store/schema.sql``), and runs without error on an
empty store opened with ``open_store("sqlite://:memory:")``. Only SQLite is executed here;
PostgreSQL portability is checked lexically.
"""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from importlib import resources

from sagacrew.runtime import Store, StoreError, open_store

MAX_SQL_CHARS = 2000
"""Longest accepted query (characters)."""
MAX_VM_STEPS = 200_000
"""SQLite VM instructions a check may use on the empty store before it is stopped."""

_FORBIDDEN_TEXT = (
    (";", "a ';' (only one statement is allowed)"),
    ("--", "an SQL comment '--'"),
    ("/*", "an SQL comment '/*'"),
    ("\\", "a backslash"),
    ("{{", "template syntax '{{'"),
    ("{%", "template syntax '{%'"),
    ("{#", "template syntax '{#'"),
)
_FORBIDDEN_WORDS = frozenset(
    [
        "insert",
        "update",
        "delete",
        "merge",
        "upsert",
        "create",
        "drop",
        "alter",
        "attach",
        "detach",
        "pragma",
        "vacuum",
        "reindex",
        "analyze",
        "truncate",
        "grant",
        "revoke",
        "copy",
        "into",
        "recursive",
        "begin",
        "commit",
        "rollback",
        "savepoint",
        "release",
        "lock",
        "call",
        "do",
        "execute",
        "notify",
        "listen",
        "set",
        "returning",
    ]
)
_DANGEROUS_FUNCTIONS = frozenset(
    [
        "load_extension",
        "readfile",
        "writefile",
        "edit",
        "randomblob",
        "zeroblob",
        "fts3_tokenizer",
        "pg_sleep",
        "pg_read_file",
        "pg_read_binary_file",
        "pg_ls_dir",
        "pg_stat_file",
        "lo_import",
        "lo_export",
        "dblink",
        "set_config",
        "pg_terminate_backend",
        "pg_cancel_backend",
        "current_setting",
    ]
)
_SQLITE_ONLY_FUNCTIONS = frozenset(
    [
        "julianday",
        "strftime",
        "datetime",
        "date",
        "time",
        "unixepoch",
        "printf",
        "format",
        "ifnull",
        "iif",
        "group_concat",
        "json_extract",
        "instr",
        "typeof",
        "total",
        "likelihood",
        "glob",
    ]
)
_STRING = re.compile(r"'(?:[^']|'')*'")
_IDENTIFIER = re.compile(r'"(?:[^"]|"")*"')
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_NAMED_PARAM = re.compile(r"[:@$][A-Za-z0-9_]|::|\?\d")


def _schema_sql() -> str:
    return resources.files("sagacrew.runtime.store").joinpath("schema.sql").read_text("utf-8")


def _bare(sql: str) -> str:
    """``sql`` with each string literal replaced by ``0`` and each quoted identifier by
    ``x``, so that keywords, calls and placeholders are found outside them only."""
    return _IDENTIFIER.sub(" x ", _STRING.sub(" 0 ", sql))


def _lexical_problem(sql: str) -> str | None:
    if not sql.strip():
        return "it is empty"
    if len(sql) > MAX_SQL_CHARS:
        return f"it is {len(sql)} characters long (at most {MAX_SQL_CHARS})"
    for char in sql:
        if char not in "\n\r\t" and unicodedata.category(char)[0] == "C":
            return f"it contains the control character U+{ord(char):04X}"
    for needle, what in _FORBIDDEN_TEXT:
        if needle in sql:
            return f"it contains {what}"
    bare = _bare(sql)
    if "'" in bare or '"' in bare:
        return "it has an unterminated quote"
    words = [w.lower() for w in _WORD.findall(bare)]
    if not words or words[0] not in ("select", "with"):
        return "it is not a SELECT query"
    forbidden = sorted(_FORBIDDEN_WORDS.intersection(words))
    if forbidden:
        return f"it uses {forbidden[0].upper()} (only read-only SELECTs are allowed)"
    calls = {name.lower() for name in _CALL.findall(bare)}
    dangerous = sorted(calls & _DANGEROUS_FUNCTIONS)
    if dangerous:
        return f"it calls {dangerous[0]}(), which is not allowed"
    sqlite_only = sorted(calls & _SQLITE_ONLY_FUNCTIONS)
    if sqlite_only:
        return f"it calls {sqlite_only[0]}(), which PostgreSQL does not have"
    if _NAMED_PARAM.search(bare):
        return "it uses a named or numbered parameter or a '::' cast (use plain '?')"
    return None


def placeholder_count(sql: str) -> int:
    """Number of ``?`` placeholders outside string literals and quoted identifiers."""
    return _bare(sql).count("?")


class SqlChecker:
    """Runs proposed checks on two empty stores built from the runtime's schema.

    One is a private SQLite connection with an authorizer that allows only reads of the
    runtime's tables (and no dangerous function); the other is the runtime's own store,
    ``open_store("sqlite://:memory:")``, queried through ``Store.query``. Use as a context
    manager, or call ``close``.
    """

    def __init__(self) -> None:
        self._conn = sqlite3.connect(":memory:")
        self._conn.executescript(_schema_sql())
        rows = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        self.tables: dict[str, list[str]] = {
            name: [col[1] for col in self._conn.execute(f"PRAGMA table_info({name})")]
            for (name,) in sorted(rows)
        }
        self._conn.set_authorizer(self._authorize)
        self._conn.set_progress_handler(self._too_long, MAX_VM_STEPS)
        self._store: Store = open_store("sqlite://:memory:")

    def _authorize(
        self, action: int, arg1: str | None, arg2: str | None, _db: str | None, _t: str | None
    ) -> int:
        if action == sqlite3.SQLITE_SELECT:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_READ and arg1 in self.tables:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() not in (_DANGEROUS_FUNCTIONS):
            return sqlite3.SQLITE_OK
        return sqlite3.SQLITE_DENY

    @staticmethod
    def _too_long() -> int:
        return 1

    def _run(self, sql: str, params: tuple[float, ...]) -> tuple[list[tuple[object, ...]], int]:
        cursor = self._conn.execute(sql, params)
        rows = cursor.fetchall()
        return rows, len(cursor.description or ())

    def violations_problem(self, sql: str, placeholders: int) -> str | None:
        """Why ``sql`` cannot be a check's ``violations_sql`` binding ``placeholders``
        values, or ``None`` when it can."""
        problem = _lexical_problem(sql)
        if problem:
            return problem
        if placeholder_count(sql) != placeholders:
            return f"it has {placeholder_count(sql)} '?' but params lists {placeholders}"
        return self._execution_problem(sql, (0.0,) * placeholders, expect_count=False)

    def subjects_problem(self, sql: str) -> str | None:
        """Why ``sql`` cannot be a check's ``subjects_sql`` (one row, one count, no
        placeholders), or ``None`` when it can."""
        problem = _lexical_problem(sql)
        if problem:
            return problem
        if placeholder_count(sql):
            return "it has '?' placeholders (subjects_sql takes no parameters)"
        return self._execution_problem(sql, (), expect_count=True)

    def _execution_problem(
        self, sql: str, params: tuple[float, ...], *, expect_count: bool
    ) -> str | None:
        try:
            rows, columns = self._run(sql, params)
            stored = self._store.query(sql, params)
        except (sqlite3.Error, ValueError, StoreError) as exc:
            return f"it fails on an empty store: {' '.join(str(exc).split())[:200]}"
        if columns < 1:
            return "it returns no column"
        if expect_count and (
            len(stored) != 1 or len(stored[0]) != 1 or not isinstance(stored[0][0], int | float)
        ):
            return "it must return exactly one row holding one number (the subjects counted)"
        if not expect_count and rows:
            return "it reports violations on an empty store"
        return None

    def close(self) -> None:
        """Close both connections."""
        self._conn.close()
        self._store.close()

    def __enter__(self) -> SqlChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
