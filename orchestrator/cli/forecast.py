"""`cfn-autofix forecast`: predict deployment failures from the template alone, optionally writing the repaired template."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator import redact
from orchestrator.cli.common import PROG, app, parse_parameters, state
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
    template: Annotated[Path, typer.Argument(help="CloudFormation template, JSON or YAML.", show_default=False)],
    region: Annotated[
        str | None, typer.Option("--region", "-r", help="Region the template is meant for (default: [deploy] region).")
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE", help="Stack parameter the deployment will use (decides conditions); repeat for several.")] = None,
    params_file: Annotated[Path | None, typer.Option("--params-file", help="JSON parameters file, as for deploy.")] = None,
    fmt: Annotated[ForecastFormat, typer.Option("--format", "-f", help="Output format.")] = ForecastFormat.text,
    fix: Annotated[
        bool, typer.Option("--fix", help="Write the repaired template (NAME.fixed.EXT beside the input, or --out).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="With --fix: where to write the repaired template.")
    ] = None,
) -> None:
    """Predict deployment failures from the template alone.

    Exit 0 when nothing is found (with --fix: when nothing is left after the repairs), 1 when findings
    remain (warnings included), 2 on bad input."""
    import json

    from orchestrator.deploy.outcome import fixed_path
    from orchestrator.forecast import sarif
    from orchestrator.forecast.run import forecast, forecast_and_fix
    from orchestrator.catalog.playbooks import load_playbooks
    from orchestrator.template import load_template, write_atomic

    if region is not None:
        check_region(region)
    settings = state(ctx).config({"deploy.region": region})
    if out is not None and not fix:
        raise BadInput("--out is the path of the repaired template and needs --fix", file=str(out))
    destination = (out or fixed_path(template)) if fix else None
    check_outputs([template], {"--out": destination})
    parameters = parse_parameters(param, params_file)
    tpl = load_template(template)
    redact.current().add(redact.noecho_values(tpl.document))
    declared = tpl.document.get("Parameters") if isinstance(tpl.document.get("Parameters"), dict) else {}
    undeclared = sorted(set(parameters) - set(declared))
    if undeclared:
        raise BadInput(f"parameter {undeclared[0]} is not declared in the template", file=str(template))
    books = load_playbooks(settings.playbooks.extra_dirs)
    target_region = settings.deploy.region
    extra: dict[str, Any] = {}
    if fix:
        assert destination is not None
        if not destination.parent.exists():
            raise BadInput("--out must be a file in an existing directory", file=str(destination))
        result = forecast_and_fix(tpl, region=target_region, playbooks=books, parameters=parameters)
        findings = result.findings
        write_atomic(destination, result.template.dumps())
        # What is left: the repaired template forecast again (a repair that was rejected leaves its finding).
        remaining = forecast(result.template, region=target_region, playbooks=books, parameters=parameters)
        extra = {
            "repaired_template": str(destination),
            "remaining": [f.to_json() for f in remaining],
            "repairs": [plan.to_json() for plan in result.plans if plan.operations],
            "rejected_repairs": result.rejected,
        }
    else:
        findings = remaining = forecast(tpl, region=target_region, playbooks=books, parameters=parameters)

    if fmt is ForecastFormat.json:
        text = json.dumps({"template": str(template), "region": target_region,
                           "findings": [f.to_json() for f in findings], **extra}, indent=2) + "\n"
    elif fmt is ForecastFormat.sarif:
        text = sarif.dumps({template: findings}, playbooks=books)
    else:
        lines = [f"{template}:{f.line or 1}: {f.playbook}: {f.message}" for f in findings]
        text = "".join(line + "\n" for line in lines)
    sys.stdout.write(term_safe(redact.current().text(text)))
    if fix:
        applied = ", ".join(plan["repair"] for plan in extra["repairs"]) or "none"
        typer.echo(f"{PROG}: wrote {extra['repaired_template']} (repairs: {applied})", err=True)
        for item in extra["rejected_repairs"]:
            # A widening rejection carries a reason and a privilege delta, not cfn-lint errors.
            why = "; ".join(item.get("errors") or []) or item.get("reason", "")
            typer.echo(f"{PROG}: rejected {item['repair']}: {why}", err=True)
        typer.echo(f"{PROG}: {len(remaining)} finding(s) left after the repairs", err=True)
    if remaining:
        raise typer.Exit(1)
