"""The deploy-with-autofix loop: forecast, deploy, watch, diagnose, repair, deploy again until green."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import structlog
from structlog.contextvars import bound_contextvars

from orchestrator import template as template_io
from orchestrator.catalog.playbooks import Playbook, load_playbooks
from orchestrator.config import Config
from orchestrator.deploy.diagnosis import diagnose
from orchestrator.deploy.outcome import (
    DeployResult,
    RunState,
    cleanup,
    close_unborn,
    event_json,
    finish,
    fixed_path,
)
from orchestrator.errors import BadInput, ConfigError
from orchestrator import redact
from orchestrator.aws.guard import Guard
from orchestrator.paths import check_outputs
from orchestrator.template.decode import MAX_BYTES as TEMPLATE_SIZE_LIMIT
from orchestrator.redact import noecho_parameters, noecho_values
from orchestrator.model import Failure, FailureKind, StackStatus
from orchestrator.options import RunOptions
from orchestrator.remedy.apply import apply_round, group_failures
from orchestrator.template import Template
from orchestrator.template.graph import build_graph

__all__ = ["DeployResult", "RunOptions", "deploy_with_autofix", "fixed_path"]

log = structlog.get_logger(__name__)

# Statuses from which UpdateStack is accepted; ROLLBACK_COMPLETE is not among them (AWS refuses it).
_UPDATABLE = frozenset({
    StackStatus.CREATE_FAILED, StackStatus.CREATE_COMPLETE, StackStatus.UPDATE_COMPLETE,
    StackStatus.UPDATE_FAILED, StackStatus.UPDATE_ROLLBACK_COMPLETE,
})


def _as_template(template: str | Path | Template) -> Template:
    if isinstance(template, Template):
        return template
    return template_io.load_template(template)


def _transient_wait(attempt: int, policy: Any) -> float:
    """Backoff before redeploying after an all-transient attempt: the aws retry policy, computed by tenacity."""
    return policy.backoff(attempt)




class _Runner:
    """One deploy-with-autofix run against an open target."""

    def __init__(self, run: RunState, options: RunOptions, *, session: Any, target: Any, journal: Any,
                 playbooks: list[Playbook]):
        self.run = run
        self.options = options
        self.session = session
        self.target = target
        self.journal = journal
        self.playbooks = playbooks
        self.books = {book.id: book for book in playbooks}
        self.noecho = noecho_parameters(run.source.document)
        self.cancel_event = options.cancel_event
        self.state = options.on_state or (lambda text: None)
        self.created = False
        self.journaled = False
        from orchestrator.aws.session import RetryPolicy

        self.retry = RetryPolicy.from_config(options.config)

    # -- deployment operations -------------------------------------------------------------
    def _stack_args(self) -> dict:
        from orchestrator.aws.session import RUN_ID_TAG
        from orchestrator.aws.targets import required_capabilities

        document = self.run.template.document
        declared = document.get("Parameters") or {}
        parameters = {k: v for k, v in self.options.parameters.items() if k in declared}
        return {
            # JSON of the long form: the same document whatever the input's format. UTF-8, not \u escapes:
            # a YAML reader (moto's) turns an escaped surrogate pair (an emoji) into two invalid characters.
            "template": template_body(document),
            "parameters": parameters or None,
            "capabilities": required_capabilities(document),
            "tags": {RUN_ID_TAG: self.run.run_id},
            "disable_rollback": self.run.strategy == "keep",
            "noecho": tuple(self.noecho),
        }

    def _create(self) -> str | None:
        from orchestrator.aws import session as aws

        self.journal.record_stack(
            run_id=self.run.run_id, stack_name=self.run.stack_name, target=self.run.target,
            region=self.run.region, endpoint_url=getattr(self.target, "endpoint_url", None),
        )
        self.journaled = True
        try:
            self.session.create_stack(self.run.stack_name, **self._stack_args())
        except aws.AwsError as exc:
            if isinstance(exc, BadInput) or not self._reconcile_create(exc):
                raise
        self.created = True
        self.run.deployments += 1
        return None

    def _reconcile_create(self, exc: Exception) -> bool:
        """After a CreateStack whose answer was lost (timeout, reset; then "already exists" on the retry with the
        same ClientRequestToken), look the stack up by name and run-id tag; True when it is this run's."""
        from orchestrator.aws.session import RUN_ID_TAG

        try:
            stack = self.session.describe_stack(self.run.stack_name)
        except Exception as lookup:  # the endpoint is still unreachable: keep the first error
            log.warning("create_reconcile_failed", error=str(lookup))
            return False
        tags = {str(t.get("Key")): str(t.get("Value")) for t in (stack or {}).get("Tags") or []}
        ours = stack is not None and tags.get(RUN_ID_TAG) == self.run.run_id
        self.run.reconciled.append({
            "operation": "CreateStack", "error": str(exc),
            "found": (stack or {}).get("StackStatus") if ours else None,
            "stack_id": (stack or {}).get("StackId") if ours else None,
        })
        log.warning("create_reconciled", error=str(exc), stack_exists=ours)
        return ours

    def _delete_and_wait(self) -> None:
        stack = self.session.describe_stack(self.run.stack_name)
        if stack is None:
            return
        stack_id = stack.get("StackId", self.run.stack_name)
        self.session.delete_stack(stack_id, run_id=self.run.run_id)
        self.session.wait_deleted(stack_id, timeout=1800.0)

    def _deploy(self) -> tuple[str, str | None]:
        """Send this attempt's create or update; returns (operation, event cursor)."""
        from orchestrator.aws import session as aws

        if not self.created:
            return "create", self._create()
        status = self.session.stack_status(self.run.stack_name)
        if self.run.strategy == "keep" and status in _UPDATABLE:
            cursor = self.session.latest_event_id(self.run.stack_name)
            try:
                self.session.update_stack(self.run.stack_name, **self._stack_args())
                self.run.deployments += 1
                return "update", cursor
            except aws.NoUpdatesToPerform:
                raise
            except (aws.StackNotUpdatable, aws.AwsError) as exc:
                log.warning("update_refused_recreating", error=str(exc))
        self._delete_and_wait()
        return "recreate", self._create()

    # -- the loop ----------------------------------------------------------------------------
    def execute(self) -> None:
        repeat_guard: set[tuple[str, str]] = set()
        self.transient_tries = 0
        for number in range(1, self.options.max_attempts + 1):
            if self.cancel_event is not None and self.cancel_event.is_set():
                raise KeyboardInterrupt
            with bound_contextvars(attempt=number):
                if self._attempt(number, repeat_guard):
                    return

    def _attempt(self, number: int, repeat_guard: set[tuple[str, str]]) -> bool:
        """One deployment, and its diagnosis and repair when it fails; True when the run is over."""
        from orchestrator.aws import session as aws

        run, started = self.run, time.monotonic()
        self.state(f"attempt {number}: deploying")
        try:
            operation, cursor = self._deploy()
        except aws.NoUpdatesToPerform:
            run.stop_reason = "the repaired template is identical to the deployed one"
            log.warning("no_updates_to_perform")
            return True
        log.info("deployment_sent", operation=operation)
        result = self._watch(number, operation, cursor)
        final = result.final_status
        attempt: dict[str, Any] = {
            "number": number, "operation": operation, "stack_status": final.value,
            "failures": [], "repairs": [], "duration_s": 0.0, "rolled_back": final.is_rollback,
        }
        run.attempts.append(attempt)

        def over(reason: str, event: str | None = None) -> bool:
            attempt["duration_s"] = round(time.monotonic() - started, 3)
            run.stop_reason = reason
            if event:
                log.warning(event)
            return True

        if final.is_green:
            run.status = "succeeded"
            log.info("stack_green", status=final.value)
            return over("green")
        self.state(f"attempt {number}: diagnosing")
        failures = self._diagnose(result, final)
        attempt["failures"] = [f.to_json() for f in failures]
        unknown = [f for f in failures if f.playbook in (None, FailureKind.UNKNOWN.value)]
        if unknown:
            run.unknown.extend(
                {**f.to_json(), "events": [event_json(e) for e in result.events if e.logical_id == f.logical_id]}
                for f in unknown
            )
            log.warning("stopping_unknown_failure", resources=[f.logical_id for f in unknown])
            return over("unknown failure: no playbook matches; evidence kept in the report")
        signatures = {(f.logical_id, f.status_reason) for f in failures}
        if signatures & repeat_guard:
            return over("the same failure repeated after its repair", "stopping_repeated_failure")
        if number == self.options.max_attempts:
            return over(f"attempt budget of {self.options.max_attempts} spent")
        self.state(f"attempt {number}: repairing")
        round_ = apply_round(run.template, group_failures(failures, self.books, self.options.repair_params),
                             region=run.region, allow_widening=self.options.allow_widening)
        run.rejected.extend(round_.rejected)
        attempt["repairs"] = [item.to_json() for item in round_.applied]
        attempt["duration_s"] = round(time.monotonic() - started, 3)
        if all(self.books[f.playbook].repair == "retry" for f in failures):
            self._transient_backoff()
            return False
        if round_.template.document == run.template.document:
            run.stop_reason = "the matching repairs changed nothing"
            log.warning("stopping_repair_changed_nothing")
            return True
        repeat_guard |= signatures
        run.template = round_.template
        return False

    def _watch(self, number: int, operation: str, cursor: str | None) -> Any:
        from orchestrator.deploy.progress import StackProgress
        from orchestrator.deploy.watcher import EventCollector, watch

        run, watch_cfg = self.run, self.options.config.watch
        with StackProgress(run.stack_name, enabled=self.options.progress or None,
                           title=f"attempt {number}: {operation}") as view:
            result = watch(
                self.session, run.stack_name, after_event_id=cursor, on_event=EventCollector([view.on_event]),
                poll_min=float(watch_cfg.poll_min_s), poll_max=float(watch_cfg.poll_max_s),
                cancel_event=self.cancel_event,
            )
        if result.cancelled:
            raise KeyboardInterrupt
        for event in result.events:
            if event.physical_id and not event.is_stack_event:
                run.physical_ids[event.physical_id] = event.logical_id
        return result

    def _diagnose(self, result: Any, final: StackStatus) -> list[Failure]:
        run = self.run
        failures = diagnose(result.events, build_graph(run.template), self.playbooks)
        for failure in failures:
            failure.details["physical_ids"] = dict(run.physical_ids)
        if not failures:
            failures = [Failure(logical_id=run.stack_name, resource_type="AWS::CloudFormation::Stack",
                                status_reason=f"stack ended {final.value} with no resource failure",
                                status=final.value, playbook=FailureKind.UNKNOWN.value)]
        return failures

    def _transient_backoff(self) -> None:
        self.transient_tries += 1
        delay = _transient_wait(self.transient_tries, self.retry)
        log.info("transient_backoff", seconds=round(delay, 2))
        if self.cancel_event is not None:
            if self.cancel_event.wait(delay):
                raise KeyboardInterrupt
        else:
            time.sleep(delay)


def template_body(document: dict) -> str:
    """The body sent to CloudFormation: indented JSON of the long form, compact when indentation alone would
    push it past the 1,000,000-byte limit (a template within the limit is never refused for our formatting)."""
    body = json.dumps(document, indent=1, ensure_ascii=False)
    if len(body.encode("utf-8")) > TEMPLATE_SIZE_LIMIT:
        body = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return body


def deploy_with_autofix(
    template: str | Path | Template,
    *,
    options: RunOptions | None = None,
    config: Config | None = None,
    **overrides: Any,
) -> DeployResult:
    """Deploy `template`, repairing and redeploying until green or the attempt budget is spent.

    Settings come from `options` (a RunOptions), else from `config` (else the configuration files) with
    the keyword overrides on top: region, target, endpoint_url, profile, role_arn, credentials,
    max_attempts, strategy, forecast, parameters, keep_stack, out, report_json, stack_name, run_id,
    progress, sandbox_config, cancel_event, allow_widening, managed_policy_strategy, write_template,
    on_state (None keeps the configured value).

    Raises BadInput for a bad template or argument and Refusal when the target refuses; every other
    outcome (green, failed, interrupted) is a DeployResult whose `report` is also written to
    `report_json` when given. Ctrl-C (KeyboardInterrupt) or `cancel_event` ends the run as
    "interrupted" after deleting its stack.
    """
    from orchestrator.aws.targets import new_run_id, stack_name_for

    if options is None:
        options = RunOptions.build(config, **overrides)
    elif overrides:
        options = options.replace(**{k: v for k, v in overrides.items() if v is not None})
        options.check()
    source = _as_template(template)
    repaired_out = Path(options.out) if options.out is not None else (fixed_path(source.path) if source.path else None)
    check_outputs([source.path], {"--out (the repaired template)": repaired_out if options.write_template else None,
                                  "--report-json": options.report_json})
    guard = Guard.from_config(options.config, "deploy")
    if guard.applies(options.target, options.endpoint_url):
        guard.refuse_without_network(options.target, options.endpoint_url)  # before any work
    build_graph(source)  # a dangling reference or a cycle is bad input before anything is deployed
    playbooks = load_playbooks(options.config.playbooks.extra_dirs)
    run_id = options.run_id or new_run_id()
    stem = source.path.stem if source.path else "template"
    stack_name = options.stack_name or stack_name_for(stem, run_id, options.config.deploy.stack_prefix)
    run = RunState(run_id=run_id, target=options.target, region=options.region, stack_name=stack_name,
                   strategy=options.strategy, source=source, template=source)
    _check_parameters(source, options.parameters)
    redactor = redact.active_or_new()
    redactor.add(noecho_values(source.document, options.parameters))
    with redactor.active(), bound_contextvars(run_id=run_id, stack=stack_name):
        log.info("run_started", template=str(source.path or "<string>"), target=options.target,
                 region=options.region, strategy=options.strategy, max_attempts=options.max_attempts)
        _deploy_and_repair(run, options, playbooks)
        return finish(run, out=options.out, report_json=options.report_json,
                      write_template=bool(options.write_template), log=log)


def _forecast(run: RunState, options: RunOptions, playbooks: list[Playbook]) -> None:
    from orchestrator.forecast.run import forecast_and_fix

    if options.on_state:
        options.on_state("forecast")
    result = forecast_and_fix(run.source, options=options, playbooks=playbooks)
    run.forecast = [f.to_json() for f in result.findings]
    run.rejected.extend(result.rejected)
    run.forecast_repairs = [item.to_json() for item in result.applied if item.plan.operations]
    run.template = result.template
    log.info("forecast_done", findings=len(result.findings), repaired=len(run.forecast_repairs))


def _deploy_and_repair(run: RunState, options: RunOptions, playbooks: list[Playbook]) -> None:
    from orchestrator.aws import session as aws
    from orchestrator.aws.journal import Journal
    from orchestrator.aws.targets import open_target, target_for

    retry = aws.RetryPolicy.from_config(options.config)
    state = options.on_state or (lambda text: None)
    runner: _Runner | None = None
    try:
        spec = target_for(options)
        with open_target(spec.kind, spec.region, endpoint_url=spec.endpoint_url, profile=spec.profile,
                         role_arn=spec.role_arn, credentials=spec.credentials, allowed_accounts=spec.allowed_accounts,
                         sandbox_config=_sandbox_config(options), retry=retry,
                         guard=Guard.from_config(options.config, "deploy")) as tgt:
            # The target is open (an aws target's account guard passed) before the forecast spends any time.
            if options.forecast:
                _forecast(run, options, playbooks)
            session = aws.AwsSession(tgt, retry=retry)
            runner = _Runner(run, options, session=session, target=tgt, journal=Journal(options.journal_path),
                             playbooks=playbooks)
            try:
                runner.execute()
            except aws.AwsError as exc:
                if isinstance(exc, BadInput):
                    raise
                # AWS refused a call retries cannot cure: the run fails with a report, and still cleans up.
                run.status = "failed"
                run.stop_reason = f"AWS error: {exc}"
                log.error("aws_error", error=str(exc))
            except KeyboardInterrupt:
                run.status = "interrupted"
                run.stop_reason = "interrupted"
                log.warning("run_interrupted")
            finally:
                sandbox = getattr(tgt, "sandbox", None)
                if sandbox is not None and runner.created:
                    try:
                        run.emulated = list(sandbox.emulated_resources(run.stack_name))
                    except Exception as exc:  # the report is still written without the list
                        log.warning("emulated_list_failed", error=str(exc))
                state("cleaning up")
                if runner.journaled and not runner.created:
                    close_unborn(run, session, runner.journal, log)
                cleanup(run, session, runner.journal, options.keep_stack, log, runner.created)
                if tgt.kind == "embedded" and runner.journaled:
                    # The sandbox, and every stack in it, is discarded with the target: nothing is left to sweep.
                    runner.journal.mark_deleted(run.run_id, run.stack_name, reason="sandbox discarded")
                    run.stack_left = False
    except KeyboardInterrupt:
        run.status = "interrupted"
        run.stop_reason = "interrupted"


def _as_text(value: Any) -> str:
    """A parameter value as CloudFormation sees it (a YAML boolean is the string true/false)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _check_parameters(source: Template, params: dict[str, str]) -> None:
    """Parameter values CloudFormation would refuse are bad input, caught before anything is deployed."""
    declared = source.document.get("Parameters") or {}
    if not isinstance(declared, dict):
        return
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise BadInput(f"parameter {unknown[0]!r} is not declared by the template", file=source.path)
    for name, spec in declared.items():
        if not isinstance(spec, dict):
            continue
        if "Default" not in spec and name not in params:
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




def _sandbox_config(options: RunOptions) -> Any:
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
