"""The deploy-with-autofix loop: forecast, deploy, watch, diagnose, repair, deploy again until green."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from orchestrator import template as template_io
from orchestrator.config import Config, load_config
from orchestrator.deploy.diagnosis import diagnose
from orchestrator.errors import BadInput
from orchestrator.template.graph import build_graph
from orchestrator.logs import get_logger, noecho_parameters
from orchestrator.model import Failure, FailureKind, StackStatus
from orchestrator.catalog.playbooks import Playbook, load_playbooks
from orchestrator.remedy.apply import RepairGroup, apply_round
from orchestrator.template import Template

# Statuses from which UpdateStack is accepted; ROLLBACK_COMPLETE is not among them (AWS refuses it).
_UPDATABLE = frozenset({
    StackStatus.CREATE_FAILED, StackStatus.CREATE_COMPLETE, StackStatus.UPDATE_COMPLETE,
    StackStatus.UPDATE_FAILED, StackStatus.UPDATE_ROLLBACK_COMPLETE,
})


@dataclass
class DeployResult:
    """What one deploy-with-autofix run produced; `report` is exactly what --report-json writes."""

    status: str
    run_id: str
    target: str
    region: str
    stack_name: str
    attempts: list[dict]
    forecast: list[dict]
    repaired_template: Path | None
    template: Template
    deployments: int
    duration_s: float
    report: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"succeeded": 0, "interrupted": 130}.get(self.status, 1)

    @property
    def repairs(self) -> list[dict]:
        return [repair for attempt in self.attempts for repair in attempt["repairs"]]


def new_run_id() -> str:
    return uuid.uuid4().hex[:10]


def fixed_path(path: Path) -> Path:
    """NAME.fixed.EXT beside the input."""
    return path.with_name(f"{path.stem}.fixed{path.suffix or '.yaml'}")


def _as_template(template: str | Path | Template) -> Template:
    if isinstance(template, Template):
        return template
    return template_io.load_template(template)


@dataclass
class _Run:
    """Mutable state of one run, turned into the report at the end."""

    run_id: str
    target: str
    region: str
    stack_name: str
    strategy: str
    source: Template
    template: Template
    started: float = field(default_factory=time.monotonic)
    attempts: list[dict] = field(default_factory=list)
    forecast: list[dict] = field(default_factory=list)
    forecast_repairs: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    unknown: list[dict] = field(default_factory=list)
    emulated: list[dict] = field(default_factory=list)
    deployments: int = 0
    status: str = "failed"
    stop_reason: str = ""
    stack_deleted: bool = False
    stack_left: bool = False
    physical_ids: dict[str, str] = field(default_factory=dict)


def _transient_wait(attempt: int, base: float, cap: float) -> float:
    import tenacity

    # tenacity computes the backoff so every wait in the tool follows one policy.
    wait = tenacity.wait_exponential_jitter(initial=base, max=cap)
    state = tenacity.RetryState(None, None, (), {})
    state.attempt_number = attempt
    return float(wait(state))




def _setting(cfg: Any, section: str, key: str, default: Any) -> Any:
    part = getattr(cfg, section, None)
    value = getattr(part, key, default) if part is not None else default
    return default if value is None else value


class _Runner:
    """One deploy-with-autofix run against an open target."""

    def __init__(self, run: _Run, *, session: Any, target: Any, journal: Any, playbooks: list[Playbook],
                 params: dict, noecho: set[str], max_attempts: int, mp_strategy: str, allow_widening: bool,
                 progress: bool, cancel_event: threading.Event | None, cfg: Any, log: Any,
                 state: Callable[[str], None]):
        self.run = run
        self.session = session
        self.target = target
        self.journal = journal
        self.playbooks = playbooks
        self.books = {book.id: book for book in playbooks}
        self.params = params
        self.noecho = noecho
        self.max_attempts = max_attempts
        self.mp_strategy = mp_strategy
        self.allow_widening = allow_widening
        self.progress = progress
        self.cancel_event = cancel_event
        self.cfg = cfg
        self.log = log
        self.state = state
        self.created = False
        self.retry_base = float(_setting(cfg, "retry", "base_s", 0.5))
        self.retry_cap = float(_setting(cfg, "retry", "cap_s", 20.0))

    # -- deployment operations -------------------------------------------------------------
    def _stack_args(self) -> dict:
        from orchestrator.aws.session import RUN_ID_TAG
        from orchestrator.aws.targets import required_capabilities

        import json

        document = self.run.template.document
        declared = document.get("Parameters") or {}
        parameters = {k: v for k, v in self.params.items() if k in declared}
        return {
            # JSON of the long form: the same document whatever the input's format. UTF-8, not \u escapes:
            # a YAML reader (moto's) turns an escaped surrogate pair (an emoji) into two invalid characters.
            "template": json.dumps(document, indent=1, ensure_ascii=False),
            "parameters": parameters or None,
            "capabilities": required_capabilities(document),
            "tags": {RUN_ID_TAG: self.run.run_id},
            "disable_rollback": self.run.strategy == "keep",
            "noecho": tuple(self.noecho),
        }

    def _create(self) -> str | None:
        self.journal.record_stack(
            run_id=self.run.run_id, stack_name=self.run.stack_name, target=self.run.target,
            region=self.run.region, endpoint_url=getattr(self.target, "endpoint_url", None),
            account_id=self.session.account_id,
        )
        stack_id = self.session.create_stack(self.run.stack_name, **self._stack_args())
        self.journal.record_stack_id(self.run.run_id, self.run.stack_name, stack_id)
        self.created = True
        self.run.deployments += 1
        return None

    def _delete_and_wait(self) -> None:
        stack = self.session.describe_stack(self.run.stack_name)
        if stack is None:
            return
        stack_id = stack.get("StackId", self.run.stack_name)
        self.session.delete_stack(stack_id, run_id=self.run.run_id)
        self.session.wait_deleted(stack_id, timeout=float(_setting(self.cfg, "watch", "delete_timeout_s", 1800)))

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
                self.log.warning("update_refused_recreating", error=str(exc))
        self._delete_and_wait()
        return "recreate", self._create()

    # -- the loop ----------------------------------------------------------------------------
    def execute(self) -> None:
        from orchestrator.aws import session as aws
        from orchestrator.deploy.progress import StackProgress
        from orchestrator.deploy.watcher import EventCollector, watch

        run = self.run
        repeat_guard: set[tuple[str, str]] = set()
        transient_tries = 0
        for number in range(1, self.max_attempts + 1):
            if self.cancel_event is not None and self.cancel_event.is_set():
                raise KeyboardInterrupt
            started = time.monotonic()
            self.state(f"attempt {number}: deploying")
            log = self.log.bind(attempt=number)
            try:
                operation, cursor = self._deploy()
            except aws.NoUpdatesToPerform:
                run.stop_reason = "the repaired template is identical to the deployed one"
                log.warning("no_updates_to_perform")
                return
            log.info("deployment_sent", operation=operation)
            with StackProgress(run.stack_name, enabled=self.progress or None,
                               title=f"attempt {number}: {operation}") as view:
                result = watch(
                    self.session, run.stack_name, after_event_id=cursor,
                    on_event=EventCollector([view.on_event]),
                    poll_min=float(_setting(self.cfg, "watch", "poll_min_s", 0.2)),
                    poll_max=float(_setting(self.cfg, "watch", "poll_max_s", 5.0)),
                    cancel_event=self.cancel_event,
                )
            if result.cancelled:
                raise KeyboardInterrupt
            for event in result.events:
                if event.physical_id and not event.is_stack_event:
                    run.physical_ids[event.physical_id] = event.logical_id
            final = result.final_status
            attempt: dict[str, Any] = {
                "number": number, "operation": operation, "stack_status": final.value,
                "failures": [], "repairs": [], "duration_s": 0.0,
                "rolled_back": final.is_rollback,
            }
            run.attempts.append(attempt)
            if final.is_green:
                attempt["duration_s"] = round(time.monotonic() - started, 3)
                run.status = "succeeded"
                run.stop_reason = "green"
                log.info("stack_green", status=final.value)
                return
            self.state(f"attempt {number}: diagnosing")
            graph = build_graph(run.template)
            failures = diagnose(result.events, graph, self.playbooks)
            for failure in failures:
                failure.details["physical_ids"] = dict(run.physical_ids)
            attempt["failures"] = [f.to_json() for f in failures]
            if not failures:
                failures = [Failure(logical_id=run.stack_name, resource_type="AWS::CloudFormation::Stack",
                                    status_reason=f"stack ended {final.value} with no resource failure",
                                    status=final.value, playbook=FailureKind.UNKNOWN.value)]
                attempt["failures"] = [f.to_json() for f in failures]
            unknown = [f for f in failures if f.playbook in (None, FailureKind.UNKNOWN.value)]
            if unknown:
                run.unknown.extend(
                    {**f.to_json(), "events": [_event_json(e) for e in result.events if e.logical_id == f.logical_id]}
                    for f in unknown
                )
                attempt["duration_s"] = round(time.monotonic() - started, 3)
                run.stop_reason = "unknown failure: no playbook matches; evidence kept in the report"
                log.warning("stopping_unknown_failure", resources=[f.logical_id for f in unknown])
                return
            signatures = {(f.logical_id, f.status_reason) for f in failures}
            if signatures & repeat_guard:
                attempt["duration_s"] = round(time.monotonic() - started, 3)
                run.stop_reason = "the same failure repeated after its repair"
                log.warning("stopping_repeated_failure")
                return
            if number == self.max_attempts:
                attempt["duration_s"] = round(time.monotonic() - started, 3)
                run.stop_reason = f"attempt budget of {self.max_attempts} spent"
                return
            self.state(f"attempt {number}: repairing")
            round_ = apply_round(run.template, self._groups(failures), region=run.region,
                                 allow_widening=self.allow_widening)
            run.rejected.extend(round_.rejected)
            attempt["repairs"] = [item.to_json() for item in round_.applied]
            attempt["duration_s"] = round(time.monotonic() - started, 3)
            new_template = round_.template
            only_transient = all(self.books[f.playbook].repair == "retry" for f in failures)
            if only_transient:
                transient_tries += 1
                delay = _transient_wait(transient_tries, self.retry_base, self.retry_cap)
                log.info("transient_backoff", seconds=round(delay, 2))
                if self.cancel_event is not None:
                    if self.cancel_event.wait(delay):
                        raise KeyboardInterrupt
                else:
                    time.sleep(delay)
                continue
            if new_template.document == run.template.document:
                run.stop_reason = "the matching repairs changed nothing"
                log.warning("stopping_repair_changed_nothing")
                return
            repeat_guard |= {s for s in signatures}
            run.template = new_template

    def _groups(self, failures: list[Failure]) -> list[RepairGroup]:
        groups: dict[str, RepairGroup] = {}
        for failure in failures:
            book = self.books[failure.playbook]
            group = groups.setdefault(book.repair, RepairGroup(repair=book.repair, playbook=book.id, failures=[]))
            group.failures.append(failure)
            for key, value in (book.params or {}).items():
                group.params.setdefault(key, value)
        for group in groups.values():
            group.params.update(_repair_params(self.mp_strategy).get(group.repair, {}))
        return list(groups.values())


def _repair_params(mp_strategy: str) -> dict[str, dict]:
    """Run-level choices that override playbook params, by repair id."""
    return {"managed-policy-inline": {"strategy": mp_strategy}}


def _event_json(event: Any) -> dict:
    return {
        "event_id": event.event_id, "logical_id": event.logical_id, "resource_type": event.resource_type,
        "status": event.status, "reason": event.reason, "physical_id": event.physical_id,
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
    }


def _journal(cfg: Any) -> Any:
    from orchestrator.aws.journal import Journal

    path = _setting(cfg, "run", "journal", None)
    return Journal(Path(path).expanduser() if path else None)


def _cleanup(run: _Run, session: Any, journal: Any, keep_stack: bool, log: Any, created: bool) -> None:
    """Delete the run's stack unless asked to keep it; a stack that cannot be deleted stays in the journal for sweep."""
    if not created:
        return
    if keep_stack:
        run.stack_left = True
        log.info("stack_kept", stack=run.stack_name)
        return
    try:
        stack = session.describe_stack(run.stack_name)
        if stack is not None:
            stack_id = stack.get("StackId", run.stack_name)
            session.delete_stack(stack_id, run_id=run.run_id)
            session.wait_deleted(stack_id, timeout=600)
        journal.mark_deleted(run.run_id, run.stack_name)
        run.stack_deleted = True
        log.info("stack_deleted")
    except KeyboardInterrupt:
        run.stack_left = True
        log.warning("stack_cleanup_interrupted", hint="cfn-autofix sweep removes it")
    except Exception as exc:  # cleanup failure must not hide the run's outcome; the journal keeps the stack
        run.stack_left = True
        log.warning("stack_cleanup_failed", error=str(exc), hint="cfn-autofix sweep removes it")


def _finish(run: _Run, *, out: str | Path | None, report_json: str | Path | None, write_template: bool,
            log: Any) -> DeployResult:
    from orchestrator.deploy.report import build_report

    repaired_path: Path | None = None
    changed = run.template.document != run.source.document
    if write_template and changed:
        if out is not None:
            repaired_path = Path(out)
        elif run.source.path is not None:
            repaired_path = fixed_path(run.source.path)
        if repaired_path is not None:
            if run.source.path is not None and repaired_path.resolve() == run.source.path.resolve():
                raise BadInput("the output path is the input template; the input is never modified",
                               file=repaired_path)
            repaired_path.parent.mkdir(parents=True, exist_ok=True)
            template_io.write_atomic(repaired_path, run.template.dumps())
            log.info("repaired_template_written", path=str(repaired_path))
    duration = round(time.monotonic() - run.started, 3)
    report = build_report(run, repaired_path=repaired_path, duration_s=duration)
    if report_json is not None:
        import json

        path = Path(report_json)
        path.parent.mkdir(parents=True, exist_ok=True)
        template_io.write_atomic(path, json.dumps(report, indent=2, default=str) + "\n")
    log.info("run_finished", status=run.status, attempts=len(run.attempts), deployments=run.deployments,
             duration_s=duration, reason=run.stop_reason)
    return DeployResult(
        status=run.status, run_id=run.run_id, target=run.target, region=run.region, stack_name=run.stack_name,
        attempts=run.attempts, forecast=run.forecast, repaired_template=repaired_path, template=run.template,
        deployments=run.deployments, duration_s=duration, report=report,
    )


def deploy_with_autofix(
    template: str | Path | Template,
    *,
    region: str | None = None,
    target: str | None = None,
    endpoint_url: str | None = None,
    profile: str | None = None,
    role_arn: str | None = None,
    credentials: dict | None = None,
    max_attempts: int | None = None,
    strategy: str | None = None,
    forecast: bool | None = None,
    parameters: dict | None = None,
    keep_stack: bool | None = None,
    out: str | Path | None = None,
    report_json: str | Path | None = None,
    config: Config | None = None,
    stack_name: str | None = None,
    run_id: str | None = None,
    progress: bool = False,
    sandbox_config: Any = None,
    cancel_event: threading.Event | None = None,
    allow_widening: bool | None = None,
    managed_policy_strategy: str | None = None,
    write_template: bool = True,
    on_state: Callable[[str], None] | None = None,
) -> DeployResult:
    """Deploy `template`, repairing and redeploying until green or the attempt budget is spent.

    Raises BadInput for a bad template or argument and Refusal when the target refuses; every other
    outcome (green, failed, interrupted) is a DeployResult whose `report` is also written to
    `report_json` when given. Ctrl-C (KeyboardInterrupt) or `cancel_event` ends the run as
    "interrupted" after deleting its stack.
    """
    from orchestrator.aws import session as aws
    from orchestrator.aws.targets import open_target, stack_name_for

    cfg = config or load_config()
    region = region or _setting(cfg, "deploy", "region", "us-east-1")
    target = target or _setting(cfg, "deploy", "target", "embedded")
    endpoint_url = endpoint_url or _setting(cfg, "deploy", "endpoint_url", "") or None
    max_attempts = _setting(cfg, "deploy", "max_attempts", 5) if max_attempts is None else max_attempts
    strategy = strategy or _setting(cfg, "deploy", "strategy", "keep")
    forecast = _setting(cfg, "deploy", "forecast", True) if forecast is None else forecast
    keep_stack = _setting(cfg, "deploy", "keep_stack", False) if keep_stack is None else keep_stack
    allow_widening = _setting(cfg, "deploy", "allow_widening", False) if allow_widening is None else allow_widening
    mp_strategy = managed_policy_strategy or _setting(cfg, "deploy", "managed_policy_strategy", "inline")
    if strategy not in ("keep", "recreate"):
        raise BadInput(f"unknown strategy {strategy!r}: use keep or recreate")
    if mp_strategy not in ("inline", "fix-arn"):
        raise BadInput(f"unknown managed-policy strategy {mp_strategy!r}: use inline or fix-arn")
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool) or max_attempts < 1:
        raise BadInput(f"max attempts must be a positive integer, not {max_attempts!r}")

    source = _as_template(template)
    build_graph(source)  # a dangling reference or a cycle is bad input before anything is deployed
    playbooks = load_playbooks(_setting(cfg, "playbooks", "extra_dirs", []))
    run_id = run_id or new_run_id()
    stem = source.path.stem if source.path else "template"
    stack_name = stack_name or stack_name_for(stem, run_id, _setting(cfg, "deploy", "stack_prefix", "cfn-autofix-"))
    run = _Run(run_id=run_id, target=target, region=region, stack_name=stack_name, strategy=strategy,
               source=source, template=source)
    log = get_logger(run_id=run_id, stack=stack_name)
    params = {str(k): str(v) for k, v in (parameters or {}).items()}
    _check_parameters(source, params)
    log.info("run_started", template=str(source.path or "<string>"), target=target, region=region,
             strategy=strategy, max_attempts=max_attempts)
    state = on_state or (lambda text: None)

    if forecast:
        from orchestrator.forecast.run import forecast_and_fix

        state("forecast")
        applied: list = []
        fixed, findings, _, rejected = forecast_and_fix(
            source, region=region, playbooks=playbooks, parameters=params, allow_widening=allow_widening,
            repair_params=_repair_params(mp_strategy), details=applied,
        )
        run.forecast = [f.to_json() for f in findings]
        run.rejected.extend(rejected)
        run.forecast_repairs = [item.to_json() for item in applied if item.plan.operations]
        run.template = fixed
        log.info("forecast_done", findings=len(findings), repaired=len(run.forecast_repairs))

    retry = aws.RetryPolicy.from_config(cfg)
    runner: _Runner | None = None
    try:
        with open_target(
            target, region,
            endpoint_url=endpoint_url,
            profile=profile or _setting(cfg, "aws", "profile", "") or None,
            role_arn=role_arn or _setting(cfg, "aws", "role_arn", "") or None,
            credentials=credentials,
            allowed_accounts=tuple(_setting(cfg, "aws", "allowed_accounts", ()) or ()),
            sandbox_config=sandbox_config if sandbox_config is not None else _sandbox_config(cfg),
            retry=retry,
        ) as tgt:
            session = aws.AwsSession(tgt, retry=retry)
            runner = _Runner(run, session=session, target=tgt, journal=_journal(cfg), playbooks=playbooks,
                             params=params, noecho=noecho_parameters(source.document), max_attempts=max_attempts,
                             mp_strategy=mp_strategy, allow_widening=allow_widening, progress=progress,
                             cancel_event=cancel_event, cfg=cfg, log=log, state=state)
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
                        run.emulated = list(sandbox.emulated_resources(stack_name))
                    except Exception as exc:  # the report is still written without the list
                        log.warning("emulated_list_failed", error=str(exc))
                state("cleaning up")
                _cleanup(run, session, runner.journal, keep_stack, log, runner.created)
    except KeyboardInterrupt:
        run.status = "interrupted"
        run.stop_reason = "interrupted"
    return _finish(run, out=out, report_json=report_json, write_template=True if write_template else False, log=log)


def _check_parameters(source: Template, params: dict[str, str]) -> None:
    """Parameter values CloudFormation would refuse are bad input, caught before anything is deployed."""
    declared = source.document.get("Parameters") or {}
    if not isinstance(declared, dict):
        return
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise BadInput(f"parameter {unknown[0]!r} is not declared by the template", file=source.path)
    for name, spec in declared.items():
        if isinstance(spec, dict) and "Default" not in spec and name not in params:
            raise BadInput(f"parameter {name} has no Default and no value: pass --param {name}=VALUE",
                           file=source.path, line=source.line_of(("Parameters", name)))


def _sandbox_config(cfg: Any) -> Any:
    section = getattr(cfg, "sandbox", None)
    if section is None:
        return None
    from orchestrator.sandbox import SandboxConfig

    return SandboxConfig(race_probability=float(_setting(cfg, "sandbox", "race_probability", 1.0)),
                         seed=int(_setting(cfg, "sandbox", "seed", 0)))
