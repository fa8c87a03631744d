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
from orchestrator.deploy import fidelity as fidelity_of
from orchestrator.deploy.diagnosis import diagnose
from orchestrator.deploy.missing import in_failures as missing_in, stop_reason as missing_stop_reason
from orchestrator.deploy.outcome import DeployResult, RunState, cleanup, close_unborn, event_json, finish, fixed_path
from orchestrator.deploy.nested import follow, split_by_template
from orchestrator.deploy.prereqs import prepare
from orchestrator.deploy.progress import RunView
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


def _human_json(failure: Failure, book: Playbook) -> dict:
    return {**failure.to_json(), "class": book.failure_class, "explanation": book.explanation, "docs": book.docs}


def _as_template(template: str | Path | Template) -> Template:
    return template if isinstance(template, Template) else template_io.load_template(template)


def _transient_wait(attempt: int, policy: Any) -> float:
    """Backoff before redeploying after an all-transient attempt: the aws retry policy, computed by tenacity."""
    return policy.backoff(attempt)


class _Runner:
    """One deploy-with-autofix run against an open target."""

    def __init__(self, run: RunState, options: RunOptions, *, session: Any, target: Any, journal: Any,
                 playbooks: list[Playbook], prepared: Any = None, view: Any = None):
        self.run = run
        self.prepared = prepared
        self.view = view if view is not None else RunView.of(options)
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
        self.children = run.children
        from orchestrator.aws.session import RetryPolicy

        self.retry = RetryPolicy.from_config(options.config)

    # -- deployment operations -------------------------------------------------------------
    def _stack_args(self) -> dict:
        from orchestrator.aws.session import RUN_ID_TAG
        from orchestrator.aws.targets import required_capabilities

        document = self.run.template.document
        declared = document.get("Parameters") or {}
        values = self.prepared.parameters if self.prepared is not None else self.options.parameters
        parameters = {k: v for k, v in values.items() if k in declared}
        if self.prepared is not None:
            document = self.prepared.deployable(document, self.children.document)
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

        # The account lets a later sweep judge the stack only where it lives (a stand-in session may lack it).
        self.journal.record_stack(run_id=self.run.run_id, stack_name=self.run.stack_name, target=self.run.target,
                                  region=self.run.region, endpoint_url=getattr(self.target, "endpoint_url", None),
                                  account_id=getattr(self.session, "account_id", None))
        self.journaled = True
        try:
            stack_id = self.session.create_stack(self.run.stack_name, **self._stack_args())
        except aws.AwsError as exc:
            if isinstance(exc, BadInput) or not self._reconcile_create(exc):
                raise
            stack_id = self.run.reconciled[-1].get("stack_id")
        if isinstance(stack_id, str) and stack_id:
            self.journal.record_stack_id(self.run.run_id, self.run.stack_name, stack_id)
        self.created = True
        self.run.deployments += 1

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
        self.state(f"attempt {number}: {'updating' if self.created else 'creating'} the stack")
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
        attempt["failures"] = [{**f.to_json(), **{k: f.details[k] for k in ("template", "via") if k in f.details}}
                               for f in failures]
        missing = missing_in(failures, run.template.document, self.prepared, self.children)
        if missing:  # something that exists nowhere: neither repaired nor retried
            run.prerequisites.setdefault("prerequisites_missing", []).extend(missing)
            return over(missing_stop_reason(missing), "stopping_prerequisite_missing")
        limited = [f for f in failures if f.playbook == FailureKind.SANDBOX_LIMITATION.value]
        if limited:
            # The sandbox's model of a service failed, not the template: never repaired, never retried.
            run.sandbox_limitations.extend(f.to_json() for f in limited)
            log.warning("stopping_sandbox_limitation", resources=[f.logical_id for f in limited])
            return over("sandbox limitation: the embedded sandbox cannot build "
                        + ", ".join(sorted(f"{f.logical_id} ({f.resource_type})" for f in limited))
                        + "; this is not a defect of the template")
        unknown = [f for f in failures if f.playbook in (None, FailureKind.UNKNOWN.value)]
        if unknown:
            run.unknown.extend(
                {**f.to_json(), "events": [event_json(e) for e in result.events if e.logical_id == f.logical_id]}
                for f in unknown
            )
            log.warning("stopping_unknown_failure", resources=[f.logical_id for f in unknown])
            return over("unknown failure: no playbook matches; evidence kept in the report")
        human = [f for f in failures if self.books[f.playbook].repair == "needs-human"]
        if human:
            # Quotas, certificates, handler logic, permissions: another attempt would fail the same way.
            run.needs_human.extend(_human_json(f, self.books[f.playbook]) for f in human)
            log.warning("stopping_needs_human", resources=[f.logical_id for f in human],
                        classes=sorted({self.books[f.playbook].failure_class for f in human}))
            return over("needs a person: " + "; ".join(
                f"{item['logical_id']} is {item['class']} ({item['docs']})" for item in run.needs_human))
        signatures = {(f.logical_id, f.status_reason) for f in failures}
        if signatures & repeat_guard:
            return over("the same failure repeated after its repair", "stopping_repeated_failure")
        if number == self.options.max_attempts:
            return over(f"attempt budget of {self.options.max_attempts} spent")
        swept = self._sweep_own_leftovers(failures)
        if swept:
            # The name was held by a leftover of one of our own runs, now gone: the same template again.
            attempt["swept"] = swept
            attempt["duration_s"] = round(time.monotonic() - started, 3)
            repeat_guard |= signatures
            return False
        self.state(f"attempt {number}: repairing")
        changed = False
        for child, group in split_by_template(failures).items():
            # A child stack's failures are repaired in the child's template (see deploy/nested.py).
            before = run.template if child is None else self.children.get(Path(child))
            round_ = apply_round(before, group_failures(group, self.books, self.options.repair_params),
                                 region=run.region, allow_widening=self.options.allow_widening)
            run.rejected.extend(round_.rejected)
            attempt["repairs"] += [{**item.to_json(), **({"template": child} if child else {})} for item in round_.applied]
            changed = changed or round_.template.document != before.document
            if child is None:
                run.template = round_.template
            else:
                self.children.replace(Path(child), round_.template)
        attempt["duration_s"] = round(time.monotonic() - started, 3)
        from orchestrator import repairs

        # A repair that `retries` and changed nothing (retry; IAM propagation already ordered) waits and redeploys.
        if not changed and all(repairs.registry().get(self.books[f.playbook].repair).retries for f in failures):
            self._transient_backoff()
            return False
        if not changed:
            run.stop_reason = "the matching repairs changed nothing"
            log.warning("stopping_repair_changed_nothing")
            return True
        repeat_guard |= signatures
        return False

    def _sweep_own_leftovers(self, failures: list[Failure]) -> list[str]:
        """Stacks of this tool's earlier runs that held a name a failure says is taken, deleted (sweep first,
        suffix only when the holder is not ours)."""
        from orchestrator.aws.leftovers import leftover_owner, sweep_leftover

        swept: list[str] = []
        for failure in failures:
            if self.books[failure.playbook].failure_class != "name-already-exists":
                continue
            name = str(failure.details.get("identifier") or failure.details.get("name") or "").rstrip(".")
            owner = leftover_owner(self.session, name, self.run.stack_name)
            if owner is not None and owner["stack_name"] not in swept:
                sweep_leftover(self.session, owner)
                swept.append(owner["stack_name"])
        return swept

    def _watch(self, number: int, operation: str, cursor: str | None) -> Any:
        from orchestrator.deploy.watcher import EventCollector, watch

        run, watch_cfg = self.run, self.options.config.watch
        self.state(f"attempt {number}: watching the {operation}")
        with self.view.stack(f"attempt {number}: {operation} {run.stack_name}") as table:
            result = watch(
                self.session, run.stack_name, after_event_id=cursor, on_event=EventCollector([table.on_event]),
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
        # Nested stacks are followed by `follow`, which knows each child's template file (the repair goes there).
        failures = diagnose(result.events, build_graph(run.template), self.playbooks)
        failures = follow(failures, run.template, session=self.session, playbooks=self.playbooks, children=self.children)
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
    fits = len(body.encode("utf-8")) <= TEMPLATE_SIZE_LIMIT
    return body if fits else json.dumps(document, separators=(",", ":"), ensure_ascii=False)


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
    (redactor := redact.active_or_new()).add(noecho_values(source.document, options.parameters))
    view = RunView.of(options)
    options = options.replace(on_state=view.also(options.on_state)) if view.enabled else options
    with redactor.active(), view, bound_contextvars(run_id=run_id, stack=stack_name):
        log.info("run_started", template=str(source.path or "<string>"), target=options.target,
                 region=options.region, strategy=options.strategy, max_attempts=options.max_attempts)
        _deploy_and_repair(run, options, playbooks, view)
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


def _deploy_and_repair(run: RunState, options: RunOptions, playbooks: list[Playbook], view: Any) -> None:
    from orchestrator.aws import session as aws
    from orchestrator.aws.journal import Journal
    from orchestrator.aws.targets import open_target, target_for

    retry = aws.RetryPolicy.from_config(options.config)
    state = options.on_state or (lambda text: None)
    runner: _Runner | None = None
    state("starting the sandbox" if options.target == "embedded" else f"connecting to {options.target}")
    try:
        spec = target_for(options)
        with open_target(spec.kind, spec.region, endpoint_url=spec.endpoint_url, profile=spec.profile,
                         role_arn=spec.role_arn, credentials=spec.credentials, allowed_accounts=spec.allowed_accounts,
                         sandbox_config=_sandbox_config(options), retry=retry,
                         guard=Guard.from_config(options.config, "deploy")) as tgt:
            # The target is open (an aws target's account guard passed) before the forecast spends any time.
            if options.forecast:
                _forecast(run, options, playbooks)
                view.forecast(run.forecast, run.forecast_repairs)
            session = aws.AwsSession(tgt, retry=retry)
            journal = Journal(options.journal_path)
            runner = _Runner(run, options, session=session, target=tgt, journal=journal, playbooks=playbooks,
                             view=view)
            companions: list[_Runner] = []
            try:
                _deploy_companions(run, options, playbooks, session=session, target=tgt, journal=journal,
                                   into=companions, view=view)
                state("preparing prerequisites")
                runner.prepared = prepare(run.source, options.parameters, session=session, target=tgt,
                                          run_id=run.run_id, stack_name=run.stack_name, journal=journal)
                run.prerequisites = runner.prepared.to_json()
                run.children.files.update(runner.prepared.child_files())
                if (missing := runner.prepared.missing):
                    run.stop_reason = missing_stop_reason(missing)
                    log.warning("stopping_prerequisite_missing", what=missing[0]["what"], count=len(missing))
                else:
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
                        run.fidelity = sandbox.fidelity(run.stack_name)
                    except Exception as exc:  # the report is still written without the list
                        log.warning("emulated_list_failed", error=str(exc))
                elif runner.created:
                    run.fidelity = fidelity_of.from_real_stack(
                        run.template.document.get("Resources") or {}, set(run.physical_ids.values()),
                        run.status == "succeeded")
                state("cleaning up")
                if runner.journaled and not runner.created:
                    close_unborn(run, session, runner.journal, log)
                cleanup(run, session, runner.journal, options.keep_stack, log, runner.created)
                if getattr(tgt, "kind", options.target) == "embedded" and runner.journaled:
                    # The sandbox, and every stack in it, is discarded with the target: nothing is left to sweep.
                    runner.journal.mark_deleted(run.run_id, run.stack_name, reason="sandbox discarded")
                    run.stack_left = False
                if not options.keep_stack:
                    for other in [runner, *reversed(companions)]:
                        if other is not runner:
                            cleanup(other.run, session, journal, False, log, other.created)
                        if other.prepared is not None and other.prepared.fixtures is not None:
                            other.prepared.fixtures.teardown()
    except KeyboardInterrupt:
        run.status = "interrupted"
        run.stop_reason = "interrupted"


from orchestrator.deploy.preflight import (  # noqa: E402  (kept importable from here: tests and callers use them)
    _as_text, check_parameters as _check_parameters, companion_spec, deploy_companions as _deploy_companions,
    sandbox_config as _sandbox_config)
