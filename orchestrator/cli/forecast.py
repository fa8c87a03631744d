"""`cfn-autofix forecast`: predict deployment failures from templates alone, optionally writing the repaired templates."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.common import PROG, app, config_default, error_line, start_logging, state
from orchestrator.config import check_region
from orchestrator.errors import BadInput


class ForecastFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


@app.command("forecast")
def forecast_command(
    ctx: typer.Context,
    templates: Annotated[list[Path], typer.Argument(help="CloudFormation templates, JSON or YAML.", show_default=False)],
    region: Annotated[
        str | None, typer.Option("--region", help="Region the templates are meant for.", show_default=config_default("deploy.region"))
    ] = None,
    fmt: Annotated[ForecastFormat, typer.Option("--format", "-f", help="Output format.")] = ForecastFormat.text,
    fix: Annotated[
        bool, typer.Option("--fix", help="Write each repaired template (NAME.fixed.EXT beside its input, or --out).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="With --fix and one template: where to write the repaired template.", show_default="NAME.fixed.EXT beside the input")
    ] = None,
) -> None:
    """Predict deployment failures from the templates alone; exit 1 when anything is found, 2 on bad input.

    With several templates (as pre-commit passes them) each is forecast on its own: a file that is not
    a readable template gets its one error line and the others are still forecast.
    """
    if region is not None:
        check_region(region)
    settings = state(ctx).config({"deploy.region": region})
    if out is not None and not fix:
        raise BadInput("--out is the path of the repaired template and needs --fix", file=str(out))
    if out is not None and len(templates) > 1:
        raise BadInput("--out names one repaired template; with several templates each is written beside its input")
    if fix:
        start_logging(ctx)  # repairs log what they apply and reject

    from orchestrator.template import load_template

    loaded, bad = [], []
    for path in templates:  # read first: a bad path is reported before the detectors are even imported
        try:
            loaded.append((path, load_template(path)))
        except BadInput as exc:
            if len(templates) == 1:
                raise
            bad.append(exc)
            typer.echo(error_line(exc), err=True)
    from orchestrator.catalog.playbooks import load_playbooks

    books = load_playbooks(settings.playbooks.extra_dirs) if loaded else []
    results: dict[Path, dict[str, Any]] = {}
    for path, tpl in loaded:
        try:
            results[path] = _forecast_one(path, tpl, books, settings.deploy.region, fix=fix, out=out)
        except BadInput as exc:
            if len(templates) == 1:
                raise
            bad.append(exc)
            typer.echo(error_line(exc), err=True)
    sys.stdout.write(_render(results, fmt, books, settings.deploy.region))
    if fix:
        _report_fixes(results)
    if bad:
        raise typer.Exit(BadInput.exit_code)
    if any(result["findings"] for result in results.values()):
        raise typer.Exit(1)


def _forecast_one(path: Path, tpl: Any, books: list[Any], region: str, *, fix: bool, out: Path | None) -> dict[str, Any]:
    from orchestrator.deploy.outcome import fixed_path
    from orchestrator.forecast.run import forecast, forecast_and_fix
    from orchestrator.template import write_atomic

    if not fix:
        return {"findings": forecast(tpl, region=region, playbooks=books)}
    destination = out or fixed_path(path)
    if destination.resolve() == path.resolve():
        raise BadInput("--out would overwrite the input template", file=str(path))
    if destination.is_dir() or not destination.parent.exists():
        raise BadInput("--out must be a file in an existing directory", file=str(destination))
    result = forecast_and_fix(tpl, region=region, playbooks=books)
    write_atomic(destination, result.template.dumps())
    return {
        "findings": result.findings,
        "repaired_template": str(destination),
        "repairs": [plan.to_json() for plan in result.plans if plan.operations],
        "rejected_repairs": result.rejected,
    }


def _render(results: dict[Path, dict[str, Any]], fmt: ForecastFormat, books: list[Any], region: str) -> str:
    import json

    if fmt is ForecastFormat.sarif:
        from orchestrator.forecast import sarif

        return sarif.dumps({path: result["findings"] for path, result in results.items()}, playbooks=books)
    if fmt is ForecastFormat.json:
        documents = [
            {"template": str(path), "region": region, "findings": [f.to_json() for f in result["findings"]],
             **{k: v for k, v in result.items() if k != "findings"}}
            for path, result in results.items()
        ]
        # One template: its object, as ever; several: a list of them.
        return json.dumps(documents[0] if len(documents) == 1 else documents, indent=2) + "\n"
    from orchestrator.termsafe import term_safe

    lines = []
    for path, result in results.items():
        found = [f"{path}:{f.line or 1}: {f.playbook}: {f.message}" for f in result["findings"]]
        # A clean forecast says so: silence would leave a reader wondering whether anything ran.
        lines += found or [f"{path}: no known failure forecast ({len(books)} playbooks)"]
    return "".join(term_safe(line, keep_newlines=False) + "\n" for line in lines)


def _report_fixes(results: dict[Path, dict[str, Any]]) -> None:
    for result in results.values():
        applied = ", ".join(plan["repair"] for plan in result["repairs"]) or "none"
        typer.echo(f"{PROG}: wrote {result['repaired_template']} (repairs: {applied})", err=True)
        for item in result["rejected_repairs"]:
            # A widening rejection carries a reason and a privilege delta, not cfn-lint errors.
            why = "; ".join(item.get("errors") or []) or item.get("reason", "")
            typer.echo(f"{PROG}: rejected {item['repair']}: {why}", err=True)
