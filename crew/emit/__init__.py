"""Emitters: a finished blueprint in, the generated system's files out (jinja2 + ruff)."""

from sagacrew.crew.emit.render import EmitError
from sagacrew.crew.emit.system import MANIFEST, emit_files, user_owned, write_files

__all__ = ["MANIFEST", "EmitError", "emit_files", "user_owned", "write_files"]
