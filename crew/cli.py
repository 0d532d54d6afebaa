"""``sagacrew``: the command line.

Heavy imports (the agents, crewAI, the runtime) happen inside the commands, so
``sagacrew --help`` stays fast and never loads crewAI. A user's mistake (a bad spec, a
wrong argument, a folder that is not a generated system) is one line on stderr and exit
code 2; a failed verdict or lint is exit code 1; ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sagacrew.crew.pipeline import Generated

try:  # recent typer vendors click; older releases use the click distribution
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover - depends on the installed typer
    from click.exceptions import NoArgsIsHelpError, UsageError  # type: ignore[assignment]

from sagacrew.crew.cli_base import (
    EXIT_FAILED,
    EXIT_USER_ERROR,
    _user_errors,
    app,
    err,
    out,
)
from sagacrew.crew.cli_cluster import cluster
from sagacrew.crew.cli_run import run
from sagacrew.crew.cli_serve import serve
from sagacrew.crew.cli_verify import verify
from sagacrew.crew.cli_worker import worker


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
    flow: Annotated[
        bool | None,
        typer.Option(
            "--flow/--no-flow",
            help="Run the agents as a crewAI Flow (same output; loads crewAI, ~3 s). "
            "Default: only with --llm, which loads crewAI anyway.",
        ),
    ] = None,
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
        use_flow = llm if flow is None else flow
        if (flow is not False or llm) and importlib.util.find_spec("crewai") is None:
            if llm:
                err.print(
                    "error: --llm needs crewAI, which is not installed; "
                    "install it with `pip install 'sagacrew[crewai]'`",
                    markup=False,
                )
                raise typer.Exit(EXIT_USER_ERROR)
            err.print(
                "note: crewAI is not installed, so the crew runs the same steps without "
                "the crewAI Flow (same output); `pip install 'sagacrew[crewai]'` adds it",
                markup=False,
            )
            use_flow = False
        if llm:
            from sagacrew.crew.llm import llm_settings

            settings = llm_settings(llm_base_url, llm_model, None)
        from sagacrew.agents.spec import SpecError, load_spec
        from sagacrew.crew.pipeline import generate_from_spec

        warnings: list[SpecError] = []
        domain = load_spec(spec, None if output else warnings)  # read once, for both
        target = output or Path("generated") / domain.system
        for warning in warnings:
            err.print(f"warning: {warning}", markup=False)
        result = generate_from_spec(domain, spec, target, use_flow=use_flow, llm=settings)
        how = "as a crewAI Flow" if use_flow else "as plain steps (--flow: as a crewAI Flow)"
        out.print(f"crew: the four agents ran {how}", markup=False)
        _report_generated(result, target)


def _report_generated(result: Generated, target: Path) -> None:
    """Print what ``generate`` did: notes, LLM proposals, the files and flowcharts."""
    for note in result.notes:
        err.print(f"note: {note}", markup=False)
    for item in result.accepted:
        out.print(f"llm: accepted {item}", markup=False)
    for item in result.rejected:
        err.print(f"llm: rejected {item}", markup=False)
    for change in result.changes:
        out.print(str(change), markup=False)
    out.print(f"generated {len(result.files)} files in {target}", markup=False)
    for path in sorted(p for p in result.files if p.endswith(".dot")):
        svg = (target / path).with_suffix(".svg")
        out.print(f"  flowchart: {svg if svg.exists() else target / path}", markup=False)


app.command()(run)
app.command()(verify)


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
        from sagacrew.agents.spec import load_spec
        from sagacrew.crew.pipeline import design

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
    path: Annotated[Path, typer.Argument(help="A Python or Elixir (.ex/.exs) file or folder.")],
    taxonomy: Annotated[
        Path | None,
        typer.Option(
            help="taxonomy.json to check event names against (default: found "
            "next to PATH when it is a generated system); the naming rules apply without it."
        ),
    ] = None,
    output_format: Annotated[
        str,
        typer.Option(
            "--format", help="text (path:line:col: RULE message; fix), json or sarif (2.1.0)."
        ),
    ] = "text",
) -> None:
    """Find the seed's saga defects: stub compensations, missing ids, bad event names, polling."""
    with _user_errors():
        from sagacrew.agents.validator import FORMATS, lint_path, load_taxonomy, render, summary

        if output_format not in FORMATS:
            err.print(
                f"sagacrew: unknown --format {output_format!r}; use one of {', '.join(FORMATS)}",
                markup=False,
            )
            raise typer.Exit(EXIT_USER_ERROR)
        if not path.exists():
            err.print(
                f"sagacrew: {path}: no such file or folder; pass a .py/.ex/.exs file or a folder",
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
        if output_format == "text":
            for finding in findings:
                out.print(str(finding), markup=False)
        else:
            sys.stdout.write(render(findings, output_format) + "\n")  # type: ignore[arg-type]
        if findings:
            err.print(summary(findings), markup=False, highlight=False)
            raise typer.Exit(EXIT_FAILED)
        if output_format == "text":
            out.print("no findings")


app.command()(serve)
app.command()(worker)
app.command()(cluster)


@app.command()
def schema() -> None:
    """Print the domain spec's JSON Schema (for editor autocompletion)."""
    from sagacrew.agents.spec import spec_json_schema

    out.print_json(json.dumps(spec_json_schema(), sort_keys=True))


def _register_operations() -> None:
    from sagacrew.crew.cli_alerts import register as register_alerts
    from sagacrew.crew.cli_ops import register
    from sagacrew.crew.cli_streams import register as register_streams
    from sagacrew.crew.cli_versions import versions

    register(app)
    register_streams(app)
    register_alerts(app)
    app.command()(versions)


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
