"""`cfn-autofix forecast`: predict deployment failures from the template alone, optionally writing the repaired template."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.common import PROG, app, state
from orchestrator.config import check_region
from orchestrator.errors import BadInput


class ForecastFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


@app.command("forecast")
def forecast_command(
    ctx: typer.Context,
    template: Annotated[Path, typer.Argument(help="CloudFormation template, JSON or YAML.", show_default=False)],
    region: Annotated[
        str | None, typer.Option("--region", help="Region the template is meant for (default: [deploy] region).")
    ] = None,
    fmt: Annotated[ForecastFormat, typer.Option("--format", "-f", help="Output format.")] = ForecastFormat.text,
    fix: Annotated[
        bool, typer.Option("--fix", help="Write the repaired template (NAME.fixed.EXT beside the input, or --out).")
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="With --fix: where to write the repaired template.")
    ] = None,
) -> None:
    """Predict deployment failures from the template alone; exit 1 when anything is found."""
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
    tpl = load_template(template)
    books = load_playbooks(settings.playbooks.extra_dirs)
    target_region = settings.deploy.region
    extra: dict[str, Any] = {}
    if fix:
        destination = out or fixed_path(template)
        if destination.resolve() == template.resolve():
            raise BadInput("--out would overwrite the input template", file=str(template))
        if destination.is_dir() or not destination.parent.exists():
            raise BadInput("--out must be a file in an existing directory", file=str(destination))
        result = forecast_and_fix(tpl, region=target_region, playbooks=books)
        findings = result.findings
        write_atomic(destination, result.template.dumps())
        extra = {
            "repaired_template": str(destination),
            "repairs": [plan.to_json() for plan in result.plans if plan.operations],
            "rejected_repairs": result.rejected,
        }
    else:
        findings = forecast(tpl, region=target_region, playbooks=books)

    if fmt is ForecastFormat.json:
        text = json.dumps({"template": str(template), "region": target_region,
                           "findings": [f.to_json() for f in findings], **extra}, indent=2) + "\n"
    elif fmt is ForecastFormat.sarif:
        text = sarif.dumps({template: findings}, playbooks=books)
    else:
        lines = [f"{template}:{f.line or 1}: {f.playbook}: {f.message}" for f in findings]
        text = "".join(line + "\n" for line in lines)
    sys.stdout.write(text)
    if fix:
        applied = ", ".join(plan["repair"] for plan in extra["repairs"]) or "none"
        typer.echo(f"{PROG}: wrote {extra['repaired_template']} (repairs: {applied})", err=True)
        for item in extra["rejected_repairs"]:
            # A widening rejection carries a reason and a privilege delta, not cfn-lint errors.
            why = "; ".join(item.get("errors") or []) or item.get("reason", "")
            typer.echo(f"{PROG}: rejected {item['repair']}: {why}", err=True)
    if findings:
        raise typer.Exit(1)
