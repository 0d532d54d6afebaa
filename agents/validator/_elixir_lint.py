"""The lint's Elixir half: parse a ``.ex``/``.exs`` source and run the four Elixir rules."""

from __future__ import annotations

from collections.abc import Collection

from sagacrew.agents.validator import _elixir_messages, _elixir_polling, _elixir_stub
from sagacrew.agents.validator import _elixir_tree as ex
from sagacrew.agents.validator.findings import SYNTAX, Finding

_RULES = (_elixir_stub.check, _elixir_messages.check, _elixir_polling.check)


def lint_elixir(
    source: str, path: str, taxonomy: Collection[str] | None
) -> tuple[list[Finding], dict[int, str]]:
    """The findings of every rule (unsorted, unsuppressed) and the comments by line.

    Source with a syntax error gives one ``SAGA-L000`` finding at the first error.
    """
    root = ex.parse(source)
    comments = ex.comments(root)
    error = ex.first_error(root)
    if error is not None:
        row, column = error.start_point
        near = ex.text(error).splitlines()[0][:40] if ex.text(error) else "end of file"
        return [
            Finding(
                path,
                row + 1,
                column + 1,
                SYNTAX,
                f"cannot parse the file: syntax error near {near!r}",
                "fix the syntax (the lint reads UTF-8 Elixir source, as mix compile does)",
            )
        ], comments
    ctx = ex.ElixirContext(path=path, root=root, comments=comments, taxonomy=taxonomy)
    return [finding for rule in _RULES for finding in rule(ctx)], comments
