"""The cfn-autofix command line (typer): global options, error-to-exit-code mapping, and thin commands.

Adding a command: write one small function below its own "# --- name ---" banner, decorated with
@app.command("name"); take the shared state with `state(ctx)`; raise AutofixError subclasses (BadInput,
Refusal, ...) for expected problems — the group turns them into one stderr line and the exit code.
"""

from __future__ import annotations

import contextlib
import enum
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from orchestrator.config import Config, check_region, load_config
from orchestrator.errors import AutofixError, BadInput, Interrupted, Refusal
from orchestrator.logs import configure_logging

PROG = "cfn-autofix"


def error_line(exc: AutofixError) -> str:
    """The single stderr line for an expected error."""
    if isinstance(exc, Refusal):
        return f"{PROG}: refused: {exc}"
    if isinstance(exc, Interrupted):
        return f"{PROG}: interrupted{': ' + str(exc) if str(exc) else ''}"
    return f"{PROG}: error: {exc}".replace("\n", " ")


class _AutofixGroup(TyperGroup):
    """Maps AutofixError to its exit code with one stderr line, never a traceback (also under CliRunner)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AutofixError as exc:
            typer.echo(error_line(exc), err=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            typer.echo(f"{PROG}: interrupted", err=True)
            raise typer.Exit(Interrupted.exit_code) from None


app = typer.Typer(
    name=PROG,
    cls=_AutofixGroup,
    help="Deploy a CloudFormation template to a sandbox, repair what fails, and deploy again until green.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class AppState:
    """What the global options set up, shared with every command through ctx.obj."""

    config_path: Path | None = None
    log_json: bool = False
    _configs: dict[tuple, Config] = field(default_factory=dict, repr=False)

    def config(self, overrides: dict[str, Any] | None = None) -> Config:
        """The merged configuration, with this command's CLI overrides ({"deploy.region": ...}) on top."""
        key = tuple(sorted((overrides or {}).items(), key=lambda item: item[0]))
        key = tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in key)
        if key not in self._configs:
            self._configs[key] = load_config(overrides, config_file=self.config_path)
        return self._configs[key]


def state(ctx: typer.Context) -> AppState:
    """The shared state of the running invocation (set by the global options)."""
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState()
    return root.obj


def emit(text: str, out: Path | None) -> None:
    """Write a command's output to --out (atomically) or to stdout."""
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from orchestrator.template_io import write_atomic

    if out.is_dir():
        raise BadInput("--out is a directory", file=str(out))
    if not out.parent.exists():
        raise BadInput("--out: the directory does not exist", file=str(out))
    write_atomic(out, text)


@app.callback()
def _global_options(
    ctx: typer.Context,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log JSON lines on stderr (the default when stderr is not a terminal).")
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", metavar="PATH", help="Configuration file (TOML); replaces the project file lookup."),
    ] = None,
) -> None:
    """Deploy a CloudFormation template to a sandbox, repair what fails, and deploy again until green."""
    app_state = state(ctx)
    app_state.config_path = config
    app_state.log_json = log_json
    settings = app_state.config()
    configure_logging(json=True if (log_json or settings.log.json) else None, level=settings.log.level)


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: exit codes 0 / 1 / 2 bad input / 3 refusal / 130 interrupted."""
    try:
        app(args=argv, prog_name=PROG)
    except AutofixError as exc:  # raised outside a command (e.g. while building the command tree)
        typer.echo(error_line(exc), err=True)
        sys.exit(exc.exit_code)


# --- graph ---------------------------------------------------------------------------------------


class GraphFormat(str, enum.Enum):
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


@app.command("graph")
def graph_command(
    ctx: typer.Context,
    template: Annotated[Path, typer.Argument(help="CloudFormation template, JSON or YAML.", show_default=False)],
    fmt: Annotated[GraphFormat, typer.Option("--format", "-f", help="Output format.")] = GraphFormat.json,
    highlight: Annotated[
        list[str] | None, typer.Option("--highlight", help="Node id to colour; repeat for several.", show_default=False)
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the template's dependency graph (resources, parameters, conditions, outputs) as JSON, DOT or Mermaid."""
    import json

    from orchestrator.graph import build_graph
    from orchestrator.template_io import load_template

    state(ctx)
    graph = build_graph(load_template(template))
    marked = list(highlight or [])
    missing = [node for node in marked if node not in graph.g]
    if missing:
        raise BadInput(f"--highlight: no node {missing[0]!r} in the graph", file=str(template))
    if fmt is GraphFormat.json:
        text = json.dumps(graph.to_json(), indent=2) + "\n"
    elif fmt is GraphFormat.dot:
        text = graph.to_dot(highlight=marked)
    else:
        text = graph.to_mermaid(highlight=marked)
    emit(text, out)


# --- forecast ------------------------------------------------------------------------------------


class ForecastFormat(str, enum.Enum):
    text = "text"
    json = "json"
    sarif = "sarif"


def _fixed_path(template: Path) -> Path:
    return template.with_name(f"{template.stem}.fixed{template.suffix}")


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

    from orchestrator import sarif
    from orchestrator.forecast import forecast, forecast_and_fix
    from orchestrator.playbooks import load_playbooks
    from orchestrator.template_io import load_template, write_atomic

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
        destination = out or _fixed_path(template)
        if destination.resolve() == template.resolve():
            raise BadInput("--out would overwrite the input template", file=str(template))
        if destination.is_dir() or not destination.parent.exists():
            raise BadInput("--out must be a file in an existing directory", file=str(destination))
        fixed, findings, plans, rejected = forecast_and_fix(tpl, region=target_region, playbooks=books)
        write_atomic(destination, fixed.dumps())
        extra = {
            "repaired_template": str(destination),
            "repairs": [plan.to_json() for plan in plans if plan.operations],
            "rejected_repairs": rejected,
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


def quiet_console_logs(ctx: typer.Context) -> None:
    """On a terminal the live view and the summary carry the progress: info-level logs would repeat them."""
    app_state = state(ctx)
    settings = app_state.config()
    if sys.stderr.isatty() and not (app_state.log_json or settings.log.json) and settings.log.level == "info":
        configure_logging(json=False, level="warning")


# --- deploy --------------------------------------------------------------------------------------


class Strategy(str, enum.Enum):
    keep = "keep"
    recreate = "recreate"


class TargetKind(str, enum.Enum):
    embedded = "embedded"
    aws = "aws"
    endpoint = "endpoint"


class ManagedPolicyStrategy(str, enum.Enum):
    inline = "inline"
    fix_arn = "fix-arn"


def parse_parameters(pairs: list[str] | None, params_file: Path | None) -> dict[str, str]:
    """--param K=V pairs over a parameters file (JSON object, or the AWS CLI's ParameterKey/ParameterValue list)."""
    import json

    values: dict[str, str] = {}
    if params_file is not None:
        try:
            data = json.loads(params_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BadInput("parameters file not found", file=str(params_file)) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read parameters file: {exc}", file=str(params_file)) from None
        except json.JSONDecodeError as exc:
            raise BadInput(f"invalid JSON: {exc.msg}", file=str(params_file), line=exc.lineno) from None
        if isinstance(data, dict) and all(isinstance(v, (str, int, float, bool)) for v in data.values()):
            values.update({str(k): str(v) for k, v in data.items()})
        elif isinstance(data, list) and all(isinstance(i, dict) and "ParameterKey" in i for i in data):
            values.update({str(i["ParameterKey"]): str(i.get("ParameterValue", "")) for i in data})
        else:
            raise BadInput("expected {\"Name\": \"value\"} or [{\"ParameterKey\", \"ParameterValue\"}]",
                           file=str(params_file))
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BadInput(f"--param {pair!r}: expected KEY=VALUE")
        values[key] = value
    return values


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While a run lasts, SIGTERM ends it like Ctrl-C (stacks deleted, report written, exit 130); the process's
    previous handlers come back afterwards, so an in-process caller (a test, an embedding tool) keeps its own."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        signal.signal(signal.SIGTERM, handler)
        # A process started in the background by a shell inherits SIGINT ignored; Ctrl-C must still work.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        yield
    finally:
        for sig, old in previous.items():
            # getsignal() answers None for a handler not installed from Python; the default is the honest stand-in.
            signal.signal(sig, old if old is not None else signal.SIG_DFL)


@app.command("deploy")
def deploy_command(
    ctx: typer.Context,
    template: Annotated[Path, typer.Argument(help="CloudFormation template, JSON or YAML.", show_default=False)],
    region: Annotated[str | None, typer.Option("--region", "-r", help="Region to deploy to [config: deploy.region].")] = None,
    target: Annotated[TargetKind | None, typer.Option("--target", help="embedded sandbox (default), aws, or endpoint.")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).")] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).")] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, help="Deployment budget [default 5].")] = None,
    strategy: Annotated[Strategy | None, typer.Option("--strategy", help="keep: update in place after a repair; recreate: delete and create.")] = None,
    no_forecast: Annotated[bool, typer.Option("--no-forecast", help="Skip the forecast; learn only from failed deployments.")] = False,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", metavar="KEY=VALUE", help="Stack parameter; repeat for several.")] = None,
    params_file: Annotated[Path | None, typer.Option("--params-file", help="JSON parameters file.")] = None,
    keep_stack: Annotated[bool, typer.Option("--keep-stack", help="Leave the sandbox stack in place after the run.")] = False,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Where to write the repaired template [NAME.fixed.EXT beside the input].")] = None,
    report_json: Annotated[Path | None, typer.Option("--report-json", help="Write the JSON report here.")] = None,
    stack_name: Annotated[str | None, typer.Option("--stack-name", help="Stack name [prefix + template name + run id].")] = None,
    managed_policy_strategy: Annotated[ManagedPolicyStrategy | None, typer.Option("--managed-policy-strategy", help="inline: exact managed-policy document inline; fix-arn: rewrite the ARN.")] = None,
    allow_widening: Annotated[bool, typer.Option("--allow-widening", help="Accept repairs that grant more than they replace.")] = False,
) -> None:
    """Deploy TEMPLATE with autofix: forecast, deploy, diagnose failures, repair, deploy again until green."""
    from rich.console import Console

    from orchestrator.deploy_report import render_summary
    from orchestrator.loop import deploy_with_autofix

    if region is not None:
        check_region(region)
    settings = state(ctx).config()
    quiet_console_logs(ctx)
    parameters = parse_parameters(param, params_file)
    if out is not None and out.is_dir():
        raise BadInput("--out is a directory", file=str(out))
    with _sigterm_as_interrupt():
        result = deploy_with_autofix(
            template,
            region=region,
            target=target.value if target else None,
            endpoint_url=endpoint_url,
            profile=profile,
            role_arn=role_arn,
            max_attempts=max_attempts,
            strategy=strategy.value if strategy else None,
            forecast=False if no_forecast else None,
            parameters=parameters,
            keep_stack=True if keep_stack else None,
            out=out,
            report_json=report_json,
            config=settings,
            stack_name=stack_name,
            progress=sys.stderr.isatty(),
            allow_widening=True if allow_widening else None,
            managed_policy_strategy=managed_policy_strategy.value if managed_policy_strategy else None,
        )
    render_summary(result.report, Console(highlight=False))
    raise typer.Exit(result.exit_code)


# --- playbooks -----------------------------------------------------------------------------------


class PlaybooksFormat(str, enum.Enum):
    text = "text"
    json = "json"


@app.command("playbooks")
def playbooks_command(
    ctx: typer.Context,
    fmt: Annotated[PlaybooksFormat, typer.Option("--format", "-f", help="Output format.")] = PlaybooksFormat.text,
    extra_dir: Annotated[
        list[Path] | None,
        typer.Option("--dir", help="Extra playbook folder (added to [playbooks] extra_dirs); repeat for several."),
    ] = None,
) -> None:
    """List the loaded playbooks (packaged, extra folders, entry points) with what they match and repair."""
    import json

    from orchestrator.playbooks import load_playbooks

    settings = state(ctx).config()
    books = load_playbooks([*settings.playbooks.extra_dirs, *(extra_dir or [])])
    if fmt is PlaybooksFormat.json:
        sys.stdout.write(json.dumps([book.to_json() for book in books], indent=2) + "\n")
        return
    for book in books:
        types = ", ".join(book.match.resource_types) or "any resource type"
        sys.stdout.write(
            f"{book.id}  [{book.impact.value}]  {book.title}\n"
            f"    match: {types}; status {', '.join(book.match.status) or 'any'}"
            f"; reason /{book.match.reason.pattern if book.match.reason else ''}/\n"
            f"    repair: {book.repair}  forecast: {book.forecast or '-'}  docs: {book.docs}\n"
        )


# --- verify --------------------------------------------------------------------------------------


def _split_regions(text: str | None) -> list[str] | None:
    """--regions R1,R2 as a list, each name checked like every other --region."""
    regions = [r.strip() for r in text.split(",") if r.strip()] if text else None
    for region in regions or []:
        check_region(region)
    return regions


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    templates: Annotated[list[str] | None, typer.Argument(help="Templates to verify (replace the matrix's list).", show_default=False)] = None,
    matrix: Annotated[Path | None, typer.Option("--matrix", help="Verification matrix (TOML): templates, regions, parameter sets, overrides.")] = None,
    regions: Annotated[str | None, typer.Option("--regions", metavar="R1,R2", help="Regions (replace the matrix's) [us-east-1].")] = None,
    workers: Annotated[int | None, typer.Option("--workers", "-w", help="Cells run in parallel [config: verify.workers].")] = None,
    shard: Annotated[str | None, typer.Option("--shard", metavar="K/N", help="Run only shard K of N (stable per cell).")] = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    report_md: Annotated[Path | None, typer.Option("--report-md", help="Write the Markdown report here.")] = None,
    report_json: Annotated[Path | None, typer.Option("--report-json", help="Write the JSON results here (input of `report merge`).")] = None,
    fail_on_repair: Annotated[bool, typer.Option("--fail-on-repair", help="Exit 1 also when a cell needed a template repair.")] = False,
    target: Annotated[TargetKind | None, typer.Option("--target", help="embedded sandbox per cell (default), aws, or endpoint.")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).")] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).")] = None,
    max_attempts: Annotated[int | None, typer.Option("--max-attempts", min=1, help="Deployment budget per cell (over the matrix's).")] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for each cell's repaired template.")] = Path("out/verify"),
) -> None:
    """Verify templates x regions x parameter sets, each cell in its own sandbox; write JUnit, Markdown and JSON."""
    from orchestrator.verify import run_verify_command

    quiet_console_logs(ctx)

    settings = state(ctx).config()
    chosen_regions = _split_regions(regions)
    with _sigterm_as_interrupt():
        code = run_verify_command(
            templates,
            matrix_path=matrix,
            regions=chosen_regions,
            workers=workers if workers is not None else settings.verify.workers,
            shard=shard,
            junit=junit,
            report_md=report_md,
            report_json=report_json,
            fail_on_repair=fail_on_repair,
            target=(target.value if target else settings.deploy.target),
            endpoint_url=endpoint_url or settings.deploy.endpoint_url or None,
            out_dir=out_dir,
            max_attempts=max_attempts,
            profile=profile,
            role_arn=role_arn,
            config=settings,
        )
    raise typer.Exit(code)


# --- report merge --------------------------------------------------------------------------------

report_app = typer.Typer(name="report", help="Work with verify results.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("merge")
def report_merge_command(
    ctx: typer.Context,
    shards: Annotated[list[Path], typer.Argument(help="Shard results written by `verify --report-json`.", show_default=False)],
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")] = None,
    report_md: Annotated[Path | None, typer.Option("--report-md", help="Write the Markdown report here.")] = None,
    report_json: Annotated[Path | None, typer.Option("--report-json", help="Write the merged JSON results here.")] = None,
    fail_on_repair: Annotated[bool, typer.Option("--fail-on-repair", help="Exit 1 also when a cell needed a template repair.")] = False,
) -> None:
    """Merge shard results into the reports a single run over the whole matrix writes."""
    from orchestrator.verify import run_merge_command

    settings = state(ctx).config()
    code = run_merge_command(
        shards,
        junit=junit,
        report_md=report_md,
        report_json=report_json,
        fail_on_repair=fail_on_repair,
        playbook_dirs=settings.playbooks.extra_dirs,
    )
    raise typer.Exit(code)


# --- sweep ---------------------------------------------------------------------------------------


@app.command("sweep")
def sweep_command(
    ctx: typer.Context,
    target: Annotated[TargetKind | None, typer.Option("--target", help="endpoint or aws (an embedded sandbox dies with its run).")] = None,
    endpoint_url: Annotated[str | None, typer.Option("--endpoint-url", help="AWS-compatible endpoint (with --target endpoint).")] = None,
    regions: Annotated[str | None, typer.Option("--regions", metavar="R1,R2", help="Regions to sweep [config: deploy.region].")] = None,
    older_than: Annotated[str, typer.Option("--older-than", help="Only stacks created longer ago than this (30m, 6h, 2d).")] = "6h",
    yes: Annotated[bool, typer.Option("--yes", help="Delete; without it, only print what would be deleted.")] = False,
    journal: Annotated[Path | None, typer.Option("--journal", help="Journal of created stacks [config: run.journal].")] = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile (with --target aws).")] = None,
    role_arn: Annotated[str | None, typer.Option("--role-arn", help="Role to assume (with --target aws).")] = None,
) -> None:
    """Delete stacks this tool left behind (its tag, older than --older-than, or pending in the journal); dry run by default."""
    from orchestrator.sweep import run_sweep_command

    settings = state(ctx).config()
    code = run_sweep_command(
        target=target.value if target else settings.deploy.target,
        regions=_split_regions(regions) or [settings.deploy.region],
        endpoint_url=endpoint_url or settings.deploy.endpoint_url or None,
        older_than=older_than,
        yes=yes,
        journal_path=str(journal) if journal is not None else settings.run.journal,
        profile=profile or settings.aws.profile or None,
        role_arn=role_arn or settings.aws.role_arn or None,
        allowed_accounts=settings.aws.allowed_accounts,
    )
    raise typer.Exit(code)


@app.command("sandbox")
def sandbox_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free port).", min=0, max=65535)] = 0,
    region: Annotated[str, typer.Option("--region", help="Region the sandbox answers for.")] = "us-east-1",
) -> None:
    """Run the embedded sandbox (moto plus the CloudFormation fidelity rules) in the foreground until Ctrl-C."""
    check_region(region)
    from orchestrator.sandbox import serve

    try:
        serve(host=host, port=port, region=region)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
