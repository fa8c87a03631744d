"""`cfn-autofix diagnose`: root cause, class, explanation and docs of a stack that already failed, anywhere."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer

from orchestrator.cli.common import PROG, TargetKind, app, emit, state
from orchestrator.errors import BadInput


class DiagnoseFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


@app.command("diagnose")
def diagnose_command(
    ctx: typer.Context,
    template: Annotated[
        Path | None,
        typer.Argument(help="The stack's template (for the dependency graph, SARIF lines and --fix); "
                       "with --stack-name it is read from the stack when omitted.", show_default=False),
    ] = None,
    events: Annotated[
        list[Path] | None,
        typer.Option("--events", metavar="FILE", help="Saved `aws cloudformation describe-stack-events --output json`; "
                     "repeat to add nested stacks' files (matched by StackId)."),
    ] = None,
    stack_name: Annotated[
        str | None, typer.Option("--stack-name", help="Read the failed stack's events and template (read-only).")
    ] = None,
    target: Annotated[
        TargetKind | None, typer.Option("--target", help="With --stack-name: aws (default) or endpoint.")
    ] = None,
    region: Annotated[str | None, typer.Option("--region", "-r", help="Region [config: deploy.region].")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (--target endpoint).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (--target aws).")] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (--target aws).")] = None,
    fmt: Annotated[DiagnoseFormat, typer.Option("--format", "-f", help="Output format.")] = DiagnoseFormat.text,
    fix: Annotated[
        bool, typer.Option("--fix", help="Write the template repaired by the matching playbooks (NAME.fixed.EXT or --out).")
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="With --fix: where to write the repaired template.")] = None,
) -> None:
    """Explain a failed stack: exit 0 when every root cause is classified, 1 when one is unknown, 2 on bad input."""
    from orchestrator.catalog.playbooks import load_playbooks
    from orchestrator.deploy.explain import explain, load_events_file, nested_from_files
    from orchestrator.template.graph import build_graph
    from orchestrator.template import load_template, loads_template

    if (events is None) == (stack_name is None):
        raise BadInput("give exactly one of --events FILE or --stack-name NAME")
    if events is None and target is None:
        target = TargetKind.aws
    if events is not None and any(v is not None for v in (target, endpoint_url, profile, role_arn)):
        raise BadInput("--target, --endpoint-url, --profile and --role-arn go with --stack-name, not --events")
    if out is not None and not fix:
        raise BadInput("--out is the path of the repaired template and needs --fix", file=str(out))
    settings = state(ctx).config({"deploy.region": region})
    books = load_playbooks(settings.playbooks.extra_dirs)
    tpl = load_template(template) if template is not None else None
    if events is not None:
        files = [load_events_file(path) for path in events]
        source = str(files[0].path)
        result = explain(files[0].events, books, source=source, graph=build_graph(tpl) if tpl else None,
                         nested=nested_from_files(files[1:]))
    else:
        source = f"stack {stack_name} ({settings.deploy.region})"
        result, fetched = _from_stack(stack_name, target, settings, endpoint_url, profile, role_arn, books, tpl)
        if tpl is None:
            tpl = loads_template(fetched, name=f"{stack_name} (GetTemplate)")
    if fix:
        _fix(result, tpl, template, out, books, settings.deploy.region)
    if fmt is DiagnoseFormat.json:
        import json

        text = json.dumps(result.to_json(), indent=2) + "\n"
    elif fmt is DiagnoseFormat.sarif:
        artifact = str(template) if template is not None else source if events is not None else str(stack_name)

        def line_of(logical_id: str) -> int | None:
            return tpl.line_of(("Resources", logical_id)) if tpl is not None else None

        text = result.to_sarif(artifact, line_of)
    else:
        text = result.to_text()
    emit(text, None)
    if result.repaired_template:
        typer.echo(f"{PROG}: wrote {result.repaired_template}", err=True)
    if result.unknown:
        raise typer.Exit(1)


def _from_stack(stack_name: str, target: TargetKind | None, settings: Any, endpoint_url: str | None,
                profile: str | None, role_arn: str | None, books: list, tpl: Any) -> tuple[Any, str]:
    """Explained events of a live stack (nested stacks followed) and its deployed template text; read-only."""
    from orchestrator.aws.inspect import nested_reader, stack_events, stack_template
    from orchestrator.aws.session import AwsSession, RetryPolicy, StackNotFound
    from orchestrator.aws.targets import open_target
    from orchestrator.deploy.explain import explain
    from orchestrator.template.graph import build_graph
    from orchestrator.template import loads_template

    if target is TargetKind.embedded:
        raise BadInput("--target embedded starts an empty sandbox with no stack to diagnose; "
                       "use --target endpoint with a running `cfn-autofix sandbox`, or --target aws")
    with open_target(target.value, settings.deploy.region, endpoint_url=endpoint_url, profile=profile,
                     role_arn=role_arn, retry=RetryPolicy.from_config(settings), read_only=True) as opened:
        session = AwsSession(opened, retry=RetryPolicy.from_config(settings))
        try:
            events = stack_events(session, stack_name)
        except StackNotFound:
            raise BadInput(f"stack {stack_name!r} not found in {settings.deploy.region}") from None
        text = stack_template(session, stack_name)
        graph = build_graph(tpl if tpl is not None else loads_template(text, name=f"{stack_name} (GetTemplate)"))
        result = explain(events, books, source=f"stack {stack_name}", graph=graph, nested=nested_reader(session))
    return result, text


def _fix(result: Any, tpl: Any, template: Path | None, out: Path | None, books: list, region: str) -> None:
    """Apply the repairs of the classified root causes to the template and write it (never onto the input)."""
    from orchestrator.remedy.apply import apply_round, group_failures
    from orchestrator.template import write_atomic

    if tpl is None:
        raise BadInput("--fix needs the template (TEMPLATE) to repair")
    destination = out or (template.with_name(f"{template.stem}.fixed{template.suffix}") if template else None)
    if destination is None:
        raise BadInput("--fix on the template read from the stack needs --out PATH")
    if template is not None and destination.resolve() == template.resolve():
        raise BadInput("--out would overwrite the input template", file=str(template))
    if destination.is_dir() or not destination.parent.exists():
        raise BadInput("--out must be a file in an existing directory", file=str(destination))
    by_id = {book.id: book for book in books}
    fixable = [f for f in result.diagnosis.failures if f.playbook in by_id and by_id[f.playbook].repair != "needs-human"]
    round_ = apply_round(tpl, group_failures(fixable, by_id, {}), region=region)
    write_atomic(destination, round_.template.dumps())
    result.repaired_template = str(destination)
    result.repairs = [item.to_json() for item in round_.applied if item.plan.operations]
    result.rejected = round_.rejected
