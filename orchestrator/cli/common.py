"""What every command shares: the typer app, global options, config state, error-to-exit-code mapping, helpers.

Adding a command: a new module in orchestrator/cli/ with one small function decorated with
@app.command("name"), imported in orchestrator/cli/__init__.py; take the shared state with `state(ctx)`;
raise AutofixError subclasses (BadInput, Refusal, ...) for expected problems — the group turns them into
one stderr line and the exit code.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

try:  # typer >= 0.20 carries its own copy of click; its exceptions are not the click package's
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
except ImportError:  # pragma: no cover - older typer on click
    from click.exceptions import ClickException, NoArgsIsHelpError

from orchestrator import __version__, redact
from orchestrator.errors import AutofixError, BadInput, Interrupted, Refusal, TemplateWarning
from orchestrator.termsafe import term_safe

if TYPE_CHECKING:  # the CLI's start-up imports only what --help needs; config and logging come with a command
    from rich.console import Console

    from orchestrator.config import Config

PROG = "cfn-autofix"


def error_line(exc: AutofixError) -> str:
    """The single stderr line for an expected error."""
    if isinstance(exc, Refusal):
        return f"{PROG}: refused: {exc}"
    if isinstance(exc, Interrupted):
        return f"{PROG}: interrupted{': ' + str(exc) if str(exc) else ''}"
    return f"{PROG}: error: {exc}".replace("\n", " ")


def usage_error_line(exc: ClickException) -> str:
    """One stderr line for a usage error, naming the command whose --help explains it."""
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None and ctx.command_path else PROG
    message = " ".join(exc.format_message().split())
    return f"{where}: error: {message} (see '{where} --help')"


def _warning_line(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None) -> None:
    """The tool's warnings (TemplateWarning) as one stderr line; any other keeps Python's format."""
    import warnings

    if issubclass(category, TemplateWarning):
        typer.echo(f"{PROG}: warning: {message}", err=True)
    else:
        typer.echo(warnings.formatwarning(message, category, filename, lineno, line).rstrip("\n"), err=True)


class _AutofixGroup(TyperGroup):
    """Maps AutofixError to its exit code with one stderr line, never a traceback (also under CliRunner);
    usage errors are one line too, not click's boxed paragraph."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        import warnings

        try:
            with warnings.catch_warnings():
                warnings.showwarning = _warning_line
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:  # a bare group or command prints its help, as click does
            typer.echo(exc.ctx.get_help() if exc.ctx is not None else usage_error_line(exc))
            sys.exit(exc.exit_code)
        except ClickException as exc:
            typer.echo(usage_error_line(exc), err=True)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.echo(f"{PROG}: interrupted", err=True)
            sys.exit(Interrupted.exit_code)
        # Without standalone mode click returns a command's value or an Exit's code; commands return None.
        sys.exit(code if isinstance(code, int) else 0)

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
    # Plain click help: every word shows (Rich markup would eat "[default: ...]"), and no Rich import.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class AppState:
    """What the global options set up, shared with every command through ctx.obj."""

    config_path: Path | None = None
    log_json: bool = False
    color: bool | None = None
    _configs: dict[tuple, Config] = field(default_factory=dict, repr=False)

    def config(self, overrides: dict[str, Any] | None = None) -> Config:
        """The merged configuration, with this command's CLI overrides ({"deploy.region": ...}) on top."""
        from orchestrator.config import load_config

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


@functools.cache
def _packaged_defaults() -> dict[str, Any]:
    import tomllib
    from importlib import resources

    return tomllib.loads(resources.files("orchestrator.defaults").joinpath("default.toml").read_text("utf-8"))


def config_default(key: str) -> str:
    """Help's default for an option that falls back to a configuration key: "config deploy.region: us-east-1"."""
    section, _, name = key.partition(".")
    value = _packaged_defaults()[section][name]
    shown = ",".join(value) if isinstance(value, list) else str(value).lower() if isinstance(value, bool) else str(value)
    return f"config {key}: {shown or 'none'}"


def make_console(ctx: typer.Context | None = None, *, stderr: bool = False, width: int | None = None) -> Console:
    """A Rich console for a command's output that honours --color/--no-color and NO_COLOR.

    Off a terminal nothing is hard-wrapped (a URL or an ARN stays on one line); on a terminal Rich
    soft-wraps at the terminal's width.
    """
    from rich.console import Console

    color = state(ctx).color if ctx is not None else None
    stream = sys.stderr if stderr else sys.stdout
    is_tty = _isatty(stream)
    options: dict[str, Any] = {"file": stream, "highlight": False, "width": width}
    if color is True:
        options["force_terminal"] = True
    elif color is False:
        options["no_color"] = True
    if not is_tty and color is not True:
        options.update(soft_wrap=True, width=width or 10_000)
    return Console(**options)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"{PROG} {__version__}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    color: Annotated[
        bool | None,
        typer.Option("--color/--no-color", show_default="on a terminal, unless NO_COLOR is set",
                     help="Colour the output."),
    ] = None,
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
    app_state.color = color
    app_state.config()  # a bad configuration file is reported before any command runs
    if ctx.invoked_subcommand not in LIGHT_COMMANDS:
        start_logging(ctx)


# Commands that neither deploy nor log: they start without structlog (and so without Rich); one that
# reaches code that logs (forecast --fix) calls start_logging first. (Reading a template warns through
# the warnings module, printed as one line by the group.)
LIGHT_COMMANDS = frozenset({"forecast", "graph", "playbooks"})


def start_logging(ctx: typer.Context) -> None:
    """Configure structlog for this invocation (the CLI configures logging; the library never does)."""
    from orchestrator.logs import configure_logging

    app_state = state(ctx)
    settings = app_state.config()
    configure_logging(json=True if (app_state.log_json or settings.log.json) else None, level=settings.log.level,
                      colors=app_state.color)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; ends with SystemExit: 0 / 1 / 2 bad input / 3 refusal / 130 interrupted."""
    try:
        app(args=argv, prog_name=PROG)
    except AutofixError as exc:  # raised outside a command (e.g. while building the command tree)
        typer.echo(error_line(exc), err=True)
        sys.exit(exc.exit_code)


def console() -> None:
    """Console-script entry point (`cfn-autofix`, `python -m orchestrator`): main(), then a quick exit.

    When a command is done, the interpreter's own finalization (tearing down ~1,400 modules and collecting a heap
    of parsed templates, schemas and moto's models) took ~0.25 s of every run's wall time, after the last
    output. Everything a normal exit does for the outside world is done here first: other threads are waited
    for, atexit handlers run (logging's flush, temporary folders, multiprocessing's clean-up), standard
    streams are flushed; then the process ends without the teardown. A library caller uses main().
    """
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    quick_exit(code)


def quick_exit(code: Any) -> None:
    """End the process as `sys.exit(code)` would, minus the interpreter's finalization (see console())."""
    import atexit
    import os
    import threading

    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("text"): the text goes to stderr, the status is 1
        print(code, file=sys.stderr)
        code = 1
    # The interpreter's own first two steps, in its order: threading's shutdown (the exit hooks of
    # concurrent.futures and the like, then a join of every non-daemon thread; joining first would wait for
    # a pool thread that only those hooks tell to stop), then the atexit handlers.
    shutdown = getattr(threading, "_shutdown", None)
    if callable(shutdown):
        shutdown()
    else:  # pragma: no cover - every CPython 3 has it; a join is the documented meaning
        current = threading.current_thread()
        for thread in threading.enumerate():
            if thread is not current and not thread.daemon:
                thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken pipe: nothing more can be said there
            stream.flush()
    os._exit(code & 0xFF)


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
    from orchestrator.config import check_region

    regions = [r.strip() for r in text.split(",") if r.strip()] if text else None
    for region in regions or []:
        check_region(region)
    return regions


def quiet_console_logs(ctx: typer.Context) -> None:
    """On a terminal the live view and the summary carry the progress: info-level logs would repeat them."""
    from orchestrator.logs import configure_logging

    app_state = state(ctx)
    settings = app_state.config()
    if sys.stderr.isatty() and not (app_state.log_json or settings.log.json) and settings.log.level == "info":
        configure_logging(json=False, level="warning", colors=app_state.color)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While a run lasts, SIGTERM ends it like Ctrl-C (stacks deleted, report written, exit 130); the process's
    previous handlers come back afterwards, so an in-process caller (a test, an embedding tool) keeps its own."""
    import signal

    from orchestrator.signals import handlers

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # A process started in the background by a shell inherits SIGINT ignored; Ctrl-C must still work.
    with handlers({signal.SIGTERM: handler, signal.SIGINT: signal.default_int_handler}):
        yield


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
