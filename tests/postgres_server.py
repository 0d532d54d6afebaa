"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temporary directory.

The server listens on a unix socket only (no TCP port to race for), trusts local
connections, and trades durability for speed (``fsync=off``): it exists for one test
session. When running as root, the cluster is created and run as an unprivileged user
(``nobody``), since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

INSTALL_HINT = "install PostgreSQL server binaries (apt-get install postgresql)"
_PORT = 5432  # only names the socket file; there is no TCP listener


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/*/bin`` holding initdb, else initdb on PATH."""

    def major(path: str) -> int:
        part = Path(path).parent.parent.name
        return int(part) if part.isdigit() else 0

    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=major, reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _options(root: Path) -> str:
    """Server options: a unix socket in ``root`` only, no durability (a test cluster)."""
    return (
        f"-k {root} -p {_PORT} -c listen_addresses='' -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )


@dataclass
class PostgresServer:
    """A running cluster; ``url`` connects as superuser ``sagacrew`` to database postgres."""

    bin_dir: Path
    root: Path
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://sagacrew@/postgres?host={self.root}&port={_PORT}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command)} failed ({done.returncode}): {done.stderr or done.stdout}"
            )

    @classmethod
    def start(cls) -> PostgresServer:
        """Create and start a cluster; raises ``FileNotFoundError`` without binaries."""
        bin_dir = find_bin_dir()
        if bin_dir is None:
            raise FileNotFoundError(f"no initdb found: {INSTALL_HINT}")
        root = Path(tempfile.mkdtemp(prefix="sagacrew-pg-"))
        run_as = None
        if os.geteuid() == 0:
            run_as = "nobody"
            shutil.chown(root, user=run_as)
        server = cls(bin_dir=bin_dir, root=root, run_as=run_as)
        try:
            server._run(
                "initdb", "-D", str(server.data_dir), "-U", "sagacrew", "-A", "trust",
                "-E", "UTF8", "--no-sync", "--no-instructions",
            )  # fmt: skip
            server.restart()
        except BaseException:
            shutil.rmtree(root, ignore_errors=True)
            raise
        return server

    def halt(self) -> None:
        """Stop the server, cutting every connection (``-m fast``: committed work is
        flushed, since this cluster runs without fsync), keeping it for :meth:`restart`."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "stop")

    def restart(self) -> None:
        """Start the server of a halted cluster again."""
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.root / "server.log"),
            "-o", _options(self.root), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server immediately and delete the cluster."""
        try:
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
