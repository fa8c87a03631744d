"""`cfn-autofix forecast`: predict deployment failures from templates alone, optionally writing the repaired templates."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator import redact
from orchestrator.cli.common import PROG, app, config_default, error_line, parse_parameters, start_logging, state
from orchestrator.config import check_region
from orchestrator.errors import BadInput
from orchestrator.paths import check_outputs
from orchestrator.termsafe import term_safe


class ForecastFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


@app.command("forecast")
def forecast_command(
    ctx: typer.Context,
    templates: Annotated[list[Path], typer.Argument(help="CloudFormation templates, JSON or YAML.", show_default=False)],
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Region the templates are meant for.", show_default=config_default("deploy.region"))
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE", help="Stack parameter the deployment will use (decides conditions); repeat for several.")] = None,
    params_file: Annotated[Path | None, typer.Option("--params-file", help="JSON parameters file, as for deploy.")] = None,
    fmt: Annotated[ForecastFormat, typer.Option("--format", "-f", help="Output format.")] = ForecastFormat.text,
    fix: Annotated[
        bool, typer.Option("--fix", help="Write each repaired template (NAME.fixed.EXT beside its input, or --out).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="With --fix and one template: where to write the repaired template.", show_default="NAME.fixed.EXT beside the input")
    ] = None,
) -> None:
    """Predict deployment failures from the templates alone.

    Exit 0 when nothing is found (with --fix: when nothing is left after the repairs), 1 when findings
    remain (warnings included), 2 on bad input. With several templates (as pre-commit passes them) each
    is forecast on its own: a file that is not a readable template gets its one error line and the others
    are still forecast.
    """
    if region is not None:
        check_region(region)
    settings = state(ctx).config({"deploy.region": region})
    if out is not None and not fix:
        raise BadInput("--out is the path of the repaired template and needs --fix", file=str(out))
    if out is not None and len(templates) > 1:
        raise BadInput("--out names one repaired template; with several templates each is written beside its input")
    destinations: dict[Path, Path] = {}
    if fix:
        from orchestrator.deploy.outcome import fixed_path

        destinations = {path: out or fixed_path(path) for path in templates}
        # Every input (each template, the parameters file) is safe from every output, before any work.
        check_outputs([*templates, params_file],
                      {("--out" if out else f"--fix ({path})"): dest for path, dest in destinations.items()})
        start_logging(ctx)  # repairs log what they apply and reject
    parameters = parse_parameters(param, params_file)

    from orchestrator.template import load_template

    loaded, bad = [], []
    for path in templates:  # read first: a bad path is reported before the detectors are even imported
        try:
            tpl = load_template(path)
            redact.current().add(redact.noecho_values(tpl.document, parameters))
            loaded.append((path, tpl))
        except BadInput as exc:
            if len(templates) == 1:
                raise
            bad.append(exc)
            typer.echo(redact.current().text(error_line(exc)), err=True)
    from orchestrator.catalog.playbooks import load_playbooks

    books = load_playbooks(settings.playbooks.extra_dirs) if loaded else []
    results: dict[Path, dict[str, Any]] = {}
    for path, tpl in loaded:
        try:
            results[path] = _forecast_one(path, tpl, books, settings.deploy.region, parameters, destinations.get(path))
            results.update(_forecast_children(ctx, tpl, books, settings.deploy.region, parameters, skip=results))
        except BadInput as exc:
            if len(templates) == 1:
                raise
            bad.append(exc)
            typer.echo(redact.current().text(error_line(exc)), err=True)
    sys.stdout.write(term_safe(redact.current().text(_render(results, fmt, books, settings.deploy.region))))
    if fix:
        _report_fixes(results)
    if bad:
        raise typer.Exit(BadInput.exit_code)
    if any(result["remaining"] for result in results.values()):
        raise typer.Exit(1)


def _forecast_one(path: Path, tpl: Any, books: list[Any], region: str, parameters: dict[str, str],
                  destination: Path | None) -> dict[str, Any]:
    """One template's findings; with a destination (--fix) also its repairs and what is left after them."""
    from orchestrator.forecast.run import forecast, forecast_and_fix
    from orchestrator.template import write_atomic

    declared = tpl.document.get("Parameters") if isinstance(tpl.document.get("Parameters"), dict) else {}
    undeclared = sorted(set(parameters) - set(declared))
    if undeclared:
        raise BadInput(f"parameter {undeclared[0]} is not declared in the template", file=str(path))
    if destination is None:
        findings = forecast(tpl, region=region, playbooks=books, parameters=parameters)
        return {"findings": findings, "remaining": findings}
    if destination.is_dir() or not destination.parent.exists():
        raise BadInput("--out must be a file in an existing directory", file=str(destination))
    result = forecast_and_fix(tpl, region=region, playbooks=books, parameters=parameters)
    write_atomic(destination, result.template.dumps())
    return {
        "findings": result.findings,
        # What is left: the repaired template forecast again (a repair that was rejected leaves its finding).
        "remaining": forecast(result.template, region=region, playbooks=books, parameters=parameters),
        "repaired_template": str(destination),
        "repairs": [plan.to_json() for plan in result.plans if plan.operations],
        "rejected_repairs": result.rejected,
    }


def _forecast_children(ctx: typer.Context, tpl: Any, books: list[Any], region: str, parameters: dict[str, str],
                       skip: dict[Path, Any]) -> dict[Path, dict[str, Any]]:
    """The nested children's findings, each under its own file (never repaired here: see deploy/nested_forecast.py)."""
    resources = tpl.document.get("Resources") if isinstance(tpl.document.get("Resources"), dict) else {}
    if not any(isinstance(r, dict) and r.get("Type") == "AWS::CloudFormation::Stack" for r in resources.values()):
        return {}  # the common case: no need to import the deploy package
    from orchestrator.deploy.nested_forecast import forecast_children

    start_logging(ctx)  # a child it cannot read is logged, to stderr, never into the output

    out: dict[Path, dict[str, Any]] = {}
    for child in forecast_children(tpl, region=region, parameters=parameters, playbooks=books):
        if child.findings and child.path not in skip:
            entry = out.setdefault(child.path, {"findings": [], "remaining": [], "nested_in": str(child.parent)})
            entry["findings"] += child.findings
            entry["remaining"] += child.findings
    return out


def _render(results: dict[Path, dict[str, Any]], fmt: ForecastFormat, books: list[Any], region: str) -> str:
    import json

    if fmt is ForecastFormat.sarif:
        from orchestrator.forecast import sarif

        return sarif.dumps({path: result["findings"] for path, result in results.items()}, playbooks=books)
    if fmt is ForecastFormat.json:
        documents = []
        for path, result in results.items():
            document = {"template": str(path), "region": region, "findings": [f.to_json() for f in result["findings"]],
                        **({"nested_in": result["nested_in"]} if "nested_in" in result else {})}
            if "repaired_template" in result:
                document.update(repaired_template=result["repaired_template"],
                                remaining=[f.to_json() for f in result["remaining"]],
                                repairs=result["repairs"], rejected_repairs=result["rejected_repairs"])
            documents.append(document)
        # One template: its object, as ever; several: a list of them.
        return json.dumps(documents[0] if len(documents) == 1 else documents, indent=2) + "\n"
    lines = []
    for path, result in results.items():
        found = [f"{path}:{f.line or 1}: {f.playbook}: {f.message}" for f in result["findings"]]
        # A clean forecast says so: silence would leave a reader wondering whether anything ran.
        lines += found or [f"{path}: no known failure forecast ({len(books)} playbooks)"]
    return "".join(term_safe(line, keep_newlines=False) + "\n" for line in lines)


def _report_fixes(results: dict[Path, dict[str, Any]]) -> None:
    for result in results.values():
        if "repaired_template" not in result:
            continue  # a nested child's findings: reported, repaired in the child's own file by deploy
        applied = ", ".join(plan["repair"] for plan in result["repairs"]) or "none"
        typer.echo(f"{PROG}: wrote {result['repaired_template']} (repairs: {applied})", err=True)
        for item in result["rejected_repairs"]:
            # A widening rejection carries a reason and a privilege delta, not cfn-lint errors.
            why = "; ".join(item.get("errors") or []) or item.get("reason", "")
            typer.echo(f"{PROG}: rejected {item['repair']}: {why}", err=True)
        typer.echo(f"{PROG}: {len(result['remaining'])} finding(s) left after the repairs", err=True)
