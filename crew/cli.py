"""``sagacrew``: the command line.

Heavy imports (the agents, crewAI, the runtime) happen inside the commands, so
``sagacrew --help`` stays fast and never loads crewAI. A user's mistake (a bad spec, a
wrong argument, a folder that is not a generated system) is one line on stderr and exit
code 2; a failed verdict or lint is exit code 1; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from sagacrew.crew.pipeline import Generated

try:  # recent typer vendors click; older releases use the click distribution
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[assignment]

app = typer.Typer(
    name="sagacrew",
    help="Turn a domain spec into an actor/saga system, run it, and prove it consistent.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# emoji=False: rich would print an error's ``:100:`` (a line number) as an emoji. Text
# that names a file, a finding or an error is printed with markup=False as well.
out = Console(soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
_debug = False

EXIT_USER_ERROR = 2
EXIT_FAILED = 1


class Profile(StrEnum):
    dev = "dev"
    prod = "prod"


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every saga transition.")
    ] = False,
) -> None:
    global _debug
    _debug = debug
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sagacrew").setLevel(
        logging.DEBUG if debug else logging.INFO if verbose else logging.ERROR
    )


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the errors a user can fix into one line each and exit code 2."""
    from sagacrew.crew.spec import SpecErrors

    try:
        yield
    except SpecErrors as errors:
        if _debug:
            raise
        for error in errors.errors:
            err.print(str(error), markup=False)
        raise typer.Exit(EXIT_USER_ERROR) from None
    except _known_errors() as error:
        if _debug:
            raise
        err.print(f"sagacrew: {error}", markup=False)
        raise typer.Exit(EXIT_USER_ERROR) from None


def _known_errors() -> tuple[type[Exception], ...]:
    """The errors of other packages that carry a message a user can act on."""
    from sagacrew.crew.emit import EmitError
    from sagacrew.crew.generated import GeneratedSystemError
    from sagacrew.crew.llm import LlmConfigError
    from sagacrew.crew.spec import SpecError
    from sagacrew.runtime.store import StoreError

    known: tuple[type[Exception], ...] = (
        SpecError,
        EmitError,
        GeneratedSystemError,
        StoreError,
        LlmConfigError,
        OSError,  # a folder that cannot be written, a file in the way: the OS says why
    )
    try:
        from sagacrew.runtime.api import ServeError
    except ImportError:  # the API's extras (fastapi, uvicorn) are not installed
        return known
    return (*known, ServeError)


@app.command()
def generate(
    spec: Annotated[Path | None, typer.Argument(help="The domain spec (YAML).")] = None,
    from_blueprint: Annotated[
        Path | None,
        typer.Option(
            "--from-blueprint",
            help="Regenerate from a blueprint.json (or its folder) alone, without the spec.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Output folder (default: generated/<system>)."),
    ] = None,
    no_flow: Annotated[
        bool, typer.Option("--no-flow", help="Run the agents without crewAI's Flow.")
    ] = False,
    llm: Annotated[
        bool,
        typer.Option(
            "--llm",
            help="Let an OpenAI-compatible model propose refinements (validated before use).",
        ),
    ] = False,
    llm_base_url: Annotated[
        str | None, typer.Option(help="Endpoint (or SAGACREW_LLM_BASE_URL / OPENAI_BASE_URL).")
    ] = None,
    llm_model: Annotated[
        str | None, typer.Option(help="Model name (or SAGACREW_LLM_MODEL).")
    ] = None,
) -> None:
    """Run the four agents on SPEC and write the generated system (or, with
    --from-blueprint, write it again from its blueprint.json alone)."""
    with _user_errors():
        if (spec is None) == (from_blueprint is None) or (from_blueprint and llm):
            err.print(
                "sagacrew generate: give a SPEC, or --from-blueprint BLUEPRINT (without --llm)",
                markup=False,
            )
            raise typer.Exit(EXIT_USER_ERROR)
        if from_blueprint is not None:
            from sagacrew.crew.pipeline import read_blueprint, regenerate

            target = output or Path("generated") / read_blueprint(from_blueprint).system
            _report_generated(regenerate(from_blueprint, target), target)
            return
        assert spec is not None
        settings = None
        if llm:
            from sagacrew.crew.llm import llm_settings

            settings = llm_settings(llm_base_url, llm_model, None)
        from sagacrew.crew.pipeline import generate as run_generate
        from sagacrew.crew.spec import SpecError, load_spec

        warnings: list[SpecError] = []
        target = output or Path("generated") / load_spec(spec, warnings).system
        for warning in warnings:
            err.print(f"warning: {warning}", markup=False)
        _report_generated(run_generate(spec, target, use_flow=not no_flow, llm=settings), target)


def _report_generated(result: Generated, target: Path) -> None:
    """Print what ``generate`` did: notes, LLM proposals, the files and flowcharts."""
    for note in result.notes:
        err.print(f"note: {note}", markup=False)
    for item in result.accepted:
        out.print(f"llm: accepted {item}", markup=False)
    for item in result.rejected:
        err.print(f"llm: rejected {item}", markup=False)
    out.print(f"generated {len(result.files)} files in {target}", markup=False)
    for path in sorted(p for p in result.files if p.endswith(".dot")):
        svg = (target / path).with_suffix(".svg")
        out.print(f"  flowchart: {svg if svg.exists() else target / path}", markup=False)


@app.command()
def run(
    system_dir: Annotated[Path, typer.Argument(help="A folder written by `generate`.")],
    sagas: Annotated[
        int | None, typer.Option("--sagas", min=1, help="Sagas of each type (default: spec).")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(help="Store URL (default: sqlite under DIR/.sagacrew/runtime.db)."),
    ] = None,
) -> None:
    """Execute the generated system's sagas on the runtime, with the generated faults."""
    with _user_errors():
        from sagacrew.crew.generated import open_generated
        from sagacrew.crew.verify import run_workload, sqlite_url

        system = open_generated(system_dir)
        system.state_dir.mkdir(parents=True, exist_ok=True)
        url = store or sqlite_url(system.state_dir / "runtime.db")
        report = run_workload(system, url, sagas_per_type=sagas)
        out.print(f"{system.name}: {report.total} sagas run on {url}", markup=False)
        for state, count in report.by_state.items():
            out.print(f"  {state:<20} {count}")


@app.command()
def verify(
    system_dir: Annotated[Path, typer.Argument(help="A folder written by `generate`.")],
    profile: Annotated[Profile, typer.Option(help="Threshold profile.")] = Profile.dev,
    store: Annotated[
        str | None, typer.Option(help="Store URL for the run (default: a fresh SQLite file).")
    ] = None,
    skip_tests: Annotated[
        bool, typer.Option("--skip-tests", help="Do not run the generated test suite.")
    ] = False,
    skip_crash: Annotated[
        bool, typer.Option("--skip-crash", help="Do not run the kill -9 and restart phase.")
    ] = False,
    skip_contention: Annotated[
        bool,
        typer.Option(
            "--skip-contention", help="Do not run the shared-aggregates contention phase."
        ),
    ] = False,
    skip_scenarios: Annotated[
        bool,
        typer.Option("--skip-scenarios", help="Do not run the fault plan's scenarios."),
    ] = False,
) -> None:
    """Lint, test, fault-inject and check the generated system; print the verdict."""
    with _user_errors():
        from rich.progress import Progress
        from rich.table import Table

        from sagacrew.crew.generated import open_generated
        from sagacrew.crew.verify import verify as run_verify

        system = open_generated(system_dir)
        with Progress(console=err, transient=True) as bar:
            tasks: dict[str, object] = {}

            def progress(phase: str, done: int, total: int) -> None:
                if phase not in tasks:
                    tasks[phase] = bar.add_task(phase, total=total)
                bar.update(tasks[phase], completed=done)  # type: ignore[arg-type]

            result = run_verify(
                system,
                profile=profile.value,
                store_url=store,
                run_tests=not skip_tests,
                crash_run=not skip_crash,
                contention_run=not skip_contention,
                scenario_run=not skip_scenarios,
                progress=progress,
            )
        verdict = result.verdict
        table = Table(title=f"{system.name}: verdict against the {profile.value} profile")
        for column in ("gate", "measured", "threshold", ""):
            table.add_column(column)
        for gate in verdict.gates:
            table.add_row(
                gate.name,
                _figure(gate.measured, gate.unit),
                f"{gate.comparison} {_figure(gate.threshold, gate.unit)}",
                "[green]PASS[/]" if gate.passed else "[red]FAIL[/]",
            )
        out.print(table)
        for check in verdict.checks:
            if check.violation_count:
                out.print(f"[red]check {check.name}: {check.violation_count} violation(s)[/]")
                for violation in check.violations[:3]:
                    out.print(f"  {violation}", markup=False)
        for scenario in verdict.scenarios:
            if not scenario.passed:
                unmet = "; ".join(scenario.unmet)
                out.print(f"scenario {scenario.name}: {unmet}", style="red", markup=False)
        for finding in verdict.lint_findings:
            out.print(f"lint: {finding}", style="red", markup=False)
        out.print(f"sagas run: {result.workload.total} {dict(result.workload.by_state)}")
        if result.crash is not None:
            crash = result.crash
            out.print(
                f"kill -9 after {crash.ended_before_kill} sagas ended; on restart "
                f"{crash.recovered} in flight resumed: {crash.by_state}"
            )
        if result.contention is not None:
            out.print(
                f"contention: {len(result.contention.results)} concurrent sagas over shared "
                f"aggregates: {result.contention.by_state}"
            )
        out.print(f"report: {result.report_md} and {result.report_json}", markup=False)
        for saga in system.blueprint.sagas.sagas if system.blueprint.sagas else []:
            svg = system_dir / "flowcharts" / f"{saga.name}.svg"
            shown = svg if svg.exists() else svg.with_suffix(".dot")
            out.print(f"flowchart: {shown}", markup=False)
        if verdict.passed:
            out.print(f"[bold green]VERDICT: PASS[/] ({profile.value})")
        else:
            failed = [g.name for g in verdict.gates if not g.passed]
            if verdict.lint_findings:
                failed.append("lint")
            out.print(f"[bold red]VERDICT: FAIL[/] ({profile.value}): {', '.join(failed)}")
            if verdict.failed_sagas:
                out.print(f"sagas that broke it: {', '.join(verdict.failed_sagas[:10])}")
            raise typer.Exit(EXIT_FAILED)


def _figure(value: float, unit: str) -> str:
    if unit == "ratio":
        return f"{value:.2%}"
    return f"{value:.0f}" if unit == "count" else f"{value:.4g} {unit}"


@app.command()
def render(
    spec: Annotated[Path, typer.Argument(help="The domain spec (YAML).")],
    output: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for the flowcharts.")
    ] = Path("flowcharts"),
) -> None:
    """Render each saga's flowchart (DOT, Mermaid, and SVG when Graphviz is installed)."""
    with _user_errors():
        from sagacrew.agents.flowchart import render_svg
        from sagacrew.crew.pipeline import design
        from sagacrew.crew.spec import load_spec

        blueprint = design(load_spec(spec), str(spec))
        assert blueprint.sagas is not None
        output.mkdir(parents=True, exist_ok=True)
        for saga in blueprint.sagas.sagas:
            (output / f"{saga.name}.dot").write_text(saga.flowchart.dot, "utf-8")
            (output / f"{saga.name}.mmd").write_text(saga.flowchart.mermaid, "utf-8")
            hint = render_svg(saga.flowchart.dot, output / f"{saga.name}.svg")
            if hint:
                err.print(f"note: {hint}", markup=False)
            shown = "svg" if hint is None else "dot"
            out.print(f"{saga.name}: {output / saga.name}.{shown} (and .mmd)", markup=False)


@app.command()
def lint(
    path: Annotated[Path, typer.Argument(help="A Python file or folder.")],
    taxonomy: Annotated[
        Path | None,
        typer.Option(
            help="taxonomy.json to check event names against (default: found "
            "next to PATH when it is a generated system)."
        ),
    ] = None,
) -> None:
    """Find the seed's saga defects: stub compensations, missing ids, unknown events, polling."""
    with _user_errors():
        from sagacrew.agents.validator import lint_path, load_taxonomy

        if not path.exists():
            err.print(
                f"sagacrew: {path}: no such file or folder; pass a .py file or a folder",
                markup=False,
            )
            raise typer.Exit(EXIT_USER_ERROR)
        if taxonomy is None:
            for candidate in (path / "taxonomy.json", path.parent / "taxonomy.json"):
                if candidate.is_file():
                    taxonomy = candidate
                    break
        names = load_taxonomy(taxonomy) if taxonomy else None
        findings = lint_path(path, taxonomy=names)
        for finding in findings:
            out.print(str(finding), markup=False)
        if findings:
            err.print(f"{len(findings)} finding(s)")
            raise typer.Exit(EXIT_FAILED)
        out.print("no findings")


@app.command()
def serve(
    system_dir: Annotated[Path, typer.Argument(help="A folder written by `generate`.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    store: Annotated[
        str | None, typer.Option(help="Store URL (default: the one `sagacrew run` uses).")
    ] = None,
    operator_token: Annotated[
        str | None,
        typer.Option(
            envvar="SAGACREW_OPERATOR_TOKEN",
            help="Bearer token for operator endpoints (or SAGACREW_OPERATOR_TOKEN).",
        ),
    ] = None,
    max_body_bytes: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="SAGACREW_MAX_BODY_BYTES",
            help="Largest request body; larger ones get 413 before they are read "
            "(or SAGACREW_MAX_BODY_BYTES).",
        ),
    ] = 1 << 20,
    max_input_bytes: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="SAGACREW_MAX_INPUT_BYTES",
            help="Largest saga input (compact JSON) a start accepts (or SAGACREW_MAX_INPUT_BYTES).",
        ),
    ] = 64 * 1024,
    alert_webhook: Annotated[
        str | None,
        typer.Option(
            envvar="SAGACREW_ALERT_WEBHOOK",
            metavar="URL",
            help="POST each alert as JSON to this http(s) URL, besides the log "
            "(or SAGACREW_ALERT_WEBHOOK).",
        ),
    ] = None,
) -> None:
    """Run the system with its status API and live flowchart page (FastAPI + uvicorn)."""
    with _user_errors():
        from sagacrew.runtime.api import serve as run_server

        out.print(f"serving {system_dir} on http://{host}:{port}/ (Ctrl-C stops)", markup=False)
        run_server(
            system_dir,
            host=host,
            port=port,
            store_url=store,
            operator_token=operator_token,
            max_body_bytes=max_body_bytes,
            max_input_bytes=max_input_bytes,
            alert_webhook=alert_webhook,
        )


@app.command()
def schema() -> None:
    """Print the domain spec's JSON Schema (for editor autocompletion)."""
    from sagacrew.crew.spec import spec_json_schema

    out.print_json(json.dumps(spec_json_schema(), sort_keys=True))


def _register_operations() -> None:
    from sagacrew.crew.cli_alerts import register as register_alerts
    from sagacrew.crew.cli_ops import register
    from sagacrew.crew.cli_streams import register as register_streams

    register(app)
    register_streams(app)
    register_alerts(app)


_register_operations()


def main(argv: list[str] | None = None) -> None:
    """Entry point: wrong arguments become one line and exit code 2."""
    try:
        code = app(args=argv, standalone_mode=False, prog_name="sagacrew")
    except NoArgsIsHelpError:
        app(args=["--help"], prog_name="sagacrew")
    except UsageError as error:
        command = error.ctx.command_path if error.ctx else "sagacrew"
        err.print(
            f"{command}: {error.format_message().rstrip('.')}; see `{command} --help`", markup=False
        )
        sys.exit(EXIT_USER_ERROR)
    except typer.Abort:
        sys.exit(130)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
