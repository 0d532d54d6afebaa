"""What the command line prints is the text it means: ``file:100:3`` stays ``file:100:3``.

rich turns ``:100:`` and ``:1234:`` into emoji and ``[red]`` into a style unless told not
to, so a spec error, a lint finding or a user error at line 100 or 1234 would lose its
line number.
"""

from __future__ import annotations

from pathlib import Path

from cli_helpers import BROKEN_CONTEXTS
from cli_helpers import BROKEN_SAGAS
from cli_helpers import sagacrew


def _padding(lines: int) -> str:
    return "# padding\n" * lines


def test_spec_errors_at_lines_100_and_1234_print_their_line_numbers(tmp_path: Path) -> None:
    spec = tmp_path / "broken.yaml"
    # the unknown kind on line 91 + 9 = 100, the unknown field on line 100 + 1129 + 5 = 1234
    text = _padding(91) + BROKEN_CONTEXTS + _padding(1129) + BROKEN_SAGAS
    spec.write_text(text, "utf-8")
    done = sagacrew("generate", str(spec), "-o", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert any(line.startswith(f"{spec}:100:") and "crate" in line for line in lines), lines
    assert any(line.startswith(f"{spec}:1234:") and "pivot" in line for line in lines), lines


def test_lint_findings_at_lines_100_and_1234_print_their_line_numbers(tmp_path: Path) -> None:
    stub = (
        "async def compensate_{name}(ctx):\n"
        "    log.warning('Compensating: [red]cancel[/] :100:')\n"
        "    return {{'status': 'compensated'}}\n"
    )
    source = tmp_path / "saga.py"
    source.write_text(
        "import logging\n"
        "log = logging.getLogger(__name__)\n"
        + _padding(97)
        + stub.format(name="training")  # def at line 100
        + _padding(1131)
        + stub.format(name="billing"),  # def at line 1234
        "utf-8",
    )
    done = sagacrew("lint", str(source))
    assert done.returncode == 1, done.stderr
    findings = done.stdout.strip().splitlines()
    assert [line.split(" ", 1)[0] for line in findings] == [f"{source}:100:1:", f"{source}:1234:1:"]
    assert all("SAGA-L001" in line for line in findings)


def test_a_user_error_at_line_100_prints_its_line_number(tmp_path: Path) -> None:
    (tmp_path / "blueprint.json").write_text("\n" * 99 + "{oops", "utf-8")
    done = sagacrew("run", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.startswith(f"sagacrew: {tmp_path / 'blueprint.json'}:100:2: "), done.stderr
