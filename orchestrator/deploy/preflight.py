"""Checks and preparations before a run's first deployment: parameters, sandbox settings, `--with` companions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars

from orchestrator.catalog.playbooks import Playbook
from orchestrator.config import ConfigError
from orchestrator.deploy.outcome import RunState
from orchestrator.deploy.prereqs import prepare
from orchestrator.errors import BadInput
from orchestrator.options import RunOptions
from orchestrator.template import Template

log = structlog.get_logger(__name__)


def _as_text(value: Any) -> str:
    """A parameter value as CloudFormation sees it (a YAML boolean is the string true/false)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def check_parameters(source: Template, params: dict[str, str]) -> None:
    """Parameter values CloudFormation would refuse are bad input, caught before anything is deployed."""
    declared = source.document.get("Parameters") or {}
    if not isinstance(declared, dict):
        return
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise BadInput(f"parameter {unknown[0]!r} is not declared by the template", file=source.path)
    from orchestrator.deploy.fixtures import needs

    fixtured = {need.parameter for need in needs(source.document, params)}
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            continue
        if "Default" not in spec and name not in params and name not in fixtured:
            raise BadInput(f"parameter {name} has no Default and no value: pass --param {name}=VALUE",
                           file=source.path, line=source.line_of(("Parameters", name)))
        allowed = spec.get("AllowedValues")
        if isinstance(allowed, list):
            value = params[name] if name in params else _as_text(spec.get("Default"))
            listed = str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == "CommaDelimitedList"
            items = [v.strip() for v in value.split(",")] if listed else [value]
            if any(item not in {_as_text(a) for a in allowed} for item in items):
                # CloudFormation's own text, which (rightly, for NoEcho) never repeats the value.
                raise BadInput(f"Parameter '{name}' must be one of AllowedValues", file=source.path,
                               line=source.line_of(("Parameters", name)))




def sandbox_config(options: RunOptions) -> Any:
    if options.sandbox_config is not None:
        return options.sandbox_config
    from orchestrator.sandbox import FaultConfig, SandboxConfig

    section = options.config.sandbox
    try:
        faults = FaultConfig.parse(section.faults)
    except ValueError as exc:
        source = options.config.sources.get("sandbox.faults", "default")
        raise ConfigError(f"config key 'sandbox.faults': {exc} ({source})") from None
    return SandboxConfig(race_probability=float(section.race_probability), seed=int(section.seed), faults=faults)


def deploy_companions(run: RunState, options: RunOptions, playbooks: list[Playbook], *, session: Any,
                       target: Any, journal: Any, into: list[_Runner], view: Any = None) -> None:
    """Deploy each `--with` template first, in order (its exports are then there to import); green or BadInput.
    `view`: the run's terminal view, which shows the companions' deployments too."""
    from orchestrator.deploy.loop import _forecast, _Runner, _as_template  # each companion is driven as the run is

    runners = into
    for spec in options.with_templates:
        stack_name, path = companion_spec(spec)
        source = _as_template(path)
        if "=" not in str(spec) or not str(spec).partition("=")[0]:
            stack_name = importers_name(source.document, run.source.document, options.parameters, run.region) or stack_name
        companion = RunState(run_id=run.run_id, target=run.target, region=run.region, stack_name=stack_name,
                             strategy=run.strategy, source=source, template=source)
        declared = source.document.get("Parameters") or {}
        values = {k: v for k, v in options.parameters.items() if k in declared}
        check_parameters(source, values)
        runner = _Runner(companion, options, session=session, target=target, journal=journal, playbooks=playbooks,
                         view=view)
        runners.append(runner)
        with bound_contextvars(stack=stack_name):
            log.info("companion_started", template=str(path))
            if options.forecast:  # a companion gets the run's treatment: known failures repaired before deploying
                _forecast(companion, options, playbooks)
            runner.prepared = prepare(source, values, session=session, target=target, run_id=run.run_id,
                                      stack_name=stack_name, journal=journal)
            if not runner.prepared.missing:
                runner.execute()
        run.companions.append({"template": str(path), "stack_name": stack_name, "status": companion.status,
                               "stop_reason": companion.stop_reason, "attempts": companion.attempts,
                               "forecast_repairs": companion.forecast_repairs,
                               **runner.prepared.to_json()})
        if companion.status != "succeeded":
            raise BadInput(f"--with template did not deploy green ({companion.stop_reason or companion.status})",
                           file=path)


def importers_name(exporter: dict, importer: dict, parameters: dict[str, str], region: str) -> str | None:
    """The stack name under which `exporter`'s exports are the names `importer` imports (an export
    `${AWS::StackName}:Cluster` imported as `production:Cluster` means stack `production`), if any."""
    from orchestrator.deploy.prereqs import export_patterns, import_names, names_known

    wanted = [name for _, name, _ in import_names(importer, names_known(importer, parameters, region, "?"))]
    for pattern in export_patterns(exporter, parameters, region):
        for name in wanted:
            match = pattern.match(name)
            if match and match.groupdict().get("stack"):
                return match.group("stack")
    return None


def companion_spec(spec: Any) -> tuple[str, Path]:
    """`STACK=FILE` or `FILE` (the stack is then named after the file): importers name it in their parameters."""
    import re

    text = str(spec)
    name, sep, rest = text.partition("=")
    if sep and re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", name):
        return name, Path(rest)
    path = Path(text)
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", path.stem).strip("-") or "with"
    return (stem if stem[0].isalpha() else f"s-{stem}")[:128], path
