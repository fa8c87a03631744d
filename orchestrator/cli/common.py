"""What every command shares: the typer app, global options, config state, error-to-exit-code mapping, helpers.

Adding a command: a new module in orchestrator/cli/ with one small function decorated with
@app.command("name"), imported in orchestrator/cli/__init__.py; take the shared state with `state(ctx)`;
raise AutofixError subclasses (BadInput, Refusal, ...) for expected problems — the group turns them into
one stderr line and the exit code.
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

from orchestrator import redact
from orchestrator.termsafe import term_safe
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
        # One redactor per invocation: the run adds its NoEcho values, every sink (error lines too) uses it.
        with redact.Redactor().active() as redactor:
            try:
                return super().invoke(ctx)
            except AutofixError as exc:
                typer.echo(redactor.text(error_line(exc)), err=True)
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
    """Write a command's output to --out (atomically) or to stdout, through the redactor."""
    text = redact.current().text(text)
    if out is None:
        text = term_safe(text)  # a terminal, or a pipe to one: no control characters from the template
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from orchestrator.template import write_atomic

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


class TargetKind(str, enum.Enum):
    embedded = "embedded"
    aws = "aws"
    endpoint = "endpoint"


EmulatorOption = Annotated[
    bool,
    typer.Option("--emulator", help="Declare --endpoint-url an AWS emulator holding no real account (skips the "
                 "account guard); loopback URLs need no declaration [config: aws.emulator_endpoints]."),
]


FaultsOption = Annotated[
    str | None,
    typer.Option("--faults", metavar="SPEC", help="Rehearse a flaky day: API faults the embedded sandbox injects, "
                 "e.g. throttle=0.3,5xx=0.05,resets=2,lost=1,seed=7 (ops=A|B limits them) [config: sandbox.faults]."),
]


def faults_override(faults: str | None, target: str | None) -> dict[str, Any]:
    """The config override for --faults, checked now: bad syntax, or a target that is not the embedded sandbox."""
    if faults is None:
        return {}
    from orchestrator.sandbox.config import FaultConfig

    try:
        FaultConfig.parse(faults)
    except ValueError as exc:
        raise BadInput(f"--faults: {exc}") from None
    if target not in (None, "embedded"):
        raise BadInput("--faults are injected by the embedded sandbox; for an endpoint, serve one with "
                       "`cfn-autofix sandbox --faults ...`")
    return {"sandbox.faults": faults}


def config_with_emulator(ctx: typer.Context, emulator: bool, endpoint_url: str | None,
                         overrides: dict[str, Any] | None = None) -> Config:
    """The command's config (with `overrides`); with --emulator, the endpoint URL added to aws.emulator_endpoints."""
    overrides = dict(overrides or {})
    settings = state(ctx).config(overrides)
    if not emulator:
        return settings
    url = endpoint_url or settings.deploy.endpoint_url
    if not url:
        raise BadInput("--emulator declares the --endpoint-url an emulator, and no endpoint URL is given")
    return state(ctx).config({**overrides, "aws.emulator_endpoints": [*settings.aws.emulator_endpoints, url]})


def split_regions(text: str | None) -> list[str] | None:
    """--regions R1,R2 as a list, each name checked like every other --region."""
    regions = [r.strip() for r in text.split(",") if r.strip()] if text else None
    for region in regions or []:
        check_region(region)
    return regions


def quiet_console_logs(ctx: typer.Context) -> None:
    """On a terminal the live view and the summary carry the progress: info-level logs would repeat them."""
    app_state = state(ctx)
    settings = app_state.config()
    if sys.stderr.isatty() and not (app_state.log_json or settings.log.json) and settings.log.level == "info":
        configure_logging(json=False, level="warning")


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
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


def parse_parameters(pairs: list[str] | None, params_file: Path | None) -> dict[str, str]:
    """--param K=V pairs over a parameters file (JSON object, or the AWS CLI's ParameterKey/ParameterValue list)."""
    import json

    values: dict[str, str] = {}
    if params_file is not None:
        from orchestrator.inputs import DATA_LIMIT, read_text_input

        text = read_text_input(params_file, max_bytes=DATA_LIMIT, what="parameters file")
        try:
            data = json.loads(text)
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
