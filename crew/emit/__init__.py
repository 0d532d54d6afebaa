"""Emitters: a finished blueprint in, the generated system's files out (jinja2 + ruff)."""

from sagacrew.crew.emit.render import EmitError
from sagacrew.crew.emit.system import emit_files, write_files

__all__ = ["EmitError", "emit_files", "write_files"]
