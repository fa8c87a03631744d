"""Sweep: find and delete stacks this tool left behind (by its run-id tag and its journal), never any other stack."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import structlog

from orchestrator.errors import AutofixError, BadInput, Refusal
from orchestrator.aws.journal import Journal, JournalEntry

log = structlog.get_logger(__name__)

RUN_ID_TAG = "cfn-autofix:run-id"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> timedelta:
    """'6h', '30m', '2d', '90s', '1w', '1h30m' or '0' -> timedelta; anything else is BadInput."""
    raw = (text or "").strip().lower()
    if raw == "0":
        return timedelta(0)
    parts = re.findall(r"(\d+)\s*([smhdw])", raw)
    if not parts or re.sub(r"\s*\d+\s*[smhdw]\s*", "", raw):
        raise BadInput(f"--older-than '{text}': expected a duration such as 6h, 30m, 2d or 1h30m")
    return timedelta(seconds=sum(int(n) * _UNITS[u] for n, u in parts))


@dataclass
class SweepItem:
    """One stack the sweep looked at and what it did (or would do) with it."""

    region: str
    stack_name: str
    run_id: str | None
    status: str
    created: datetime | None
    sources: list[str] = field(default_factory=list)  # "tag", "journal"
    action: str = "would delete"  # would delete | deleted | failed | refused | gone | skipped
    detail: str = ""
    buckets_emptied: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "stack_name": self.stack_name,
            "run_id": self.run_id,
            "status": self.status,
            "created": self.created.isoformat() if self.created else None,
            "sources": list(self.sources),
            "action": self.action,
            "detail": self.detail,
            "buckets_emptied": list(self.buckets_emptied),
        }


def _parse_time(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _journal_entries_for(
    entries: Iterable[JournalEntry], *, target: str, region: str, endpoint_url: str | None
) -> list[JournalEntry]:
    def same_endpoint(entry: JournalEntry) -> bool:
        # Embedded sandboxes vanish with their run; their entries can only be closed, never swept elsewhere.
        if target == "aws":
            return entry.target == "aws"
        return entry.target == target and (entry.endpoint_url or "").rstrip("/") == (endpoint_url or "").rstrip("/")

    return [e for e in entries if e.region == region and same_endpoint(e)]


def account_of(stack_id: str | None) -> str | None:
    """The account in a StackId ARN (arn:PARTITION:cloudformation:REGION:ACCOUNT:stack/NAME/UUID)."""
    parts = (stack_id or "").split(":")
    return parts[4] if len(parts) > 5 and parts[0] == "arn" and parts[4].isdigit() else None


def find_candidates(
    session: Any,
    *,
    region: str,
    older_than: timedelta,
    journal_entries: Iterable[JournalEntry] = (),
    now: datetime | None = None,
) -> list[SweepItem]:
    """Tagged stacks created before now - older_than, plus this target's journal entries still pending.

    A journal entry is judged only in the account its stack was created in: there, a stack seen gone
    (by its StackId, else by its name) is 'gone' and its entry may be closed; one without the tag is
    'refused'. An entry of another account, or of an unknown one whose stack is not found, is 'skipped'.
    """
    now = now or datetime.now(timezone.utc)
    cutoff = now - older_than
    items: dict[str, SweepItem] = {}
    for stack in session.list_tagged_stacks(RUN_ID_TAG, older_than=cutoff):
        status = getattr(stack["status"], "value", stack["status"])
        items[stack["stack_name"]] = SweepItem(
            region=region,
            stack_name=stack["stack_name"],
            run_id=stack["tags"].get(RUN_ID_TAG),
            status=str(status),
            created=_aware(stack.get("created")),
            sources=["tag"],
        )
    account: str | None = None
    for entry in journal_entries:
        if entry.stack_name in items:
            if entry.run_id == items[entry.stack_name].run_id:
                items[entry.stack_name].sources.append("journal")
            continue
        recorded = _parse_time(entry.recorded_at)
        if recorded is not None and recorded >= cutoff:
            # Found and shown, never touched: its run may still be going on.
            items[entry.stack_name] = SweepItem(
                region=region, stack_name=entry.stack_name, run_id=entry.run_id, status="", created=recorded,
                sources=["journal"], action="skipped", detail=_young(recorded, now, older_than))
            continue
        if account is None:
            account = session.account_id
        items[entry.stack_name] = _judge_entry(session, entry, account, recorded, (cutoff, now, older_than))
    return sorted(items.values(), key=lambda i: (i.created or now, i.stack_name))


def _young(when: datetime, now: datetime, older_than: timedelta) -> str:
    minutes = max(0, int((now - when).total_seconds() // 60))
    return f"pending, {minutes} min old: younger than --older-than {older_than}, its run may still be going on"


def _judge_entry(session: Any, entry: JournalEntry, account: str, recorded: datetime | None,
                 age: tuple[datetime, datetime, timedelta]) -> SweepItem:
    """What the sweep may do about one pending journal entry, seen with credentials of `account`;
    `age` is (cutoff, now, older_than)."""
    cutoff, now, older_than = age
    item = SweepItem(region=entry.region, stack_name=entry.stack_name, run_id=entry.run_id, status="",
                     created=recorded, sources=["journal"], action="skipped")
    owner = entry.account_id or account_of(entry.stack_id)
    if owner is not None and owner != account:
        item.detail = f"created in account {owner}, these credentials are account {account}: not ours to judge"
        return item
    stack = session.describe_stack(entry.stack_id or entry.stack_name)
    if stack is None:
        if owner is None:
            # Without the account on record, "no such stack" may only mean these are the wrong credentials.
            item.detail = (f"no such stack in account {account}, but the journal does not say which account "
                           "created it: not ours to judge")
            return item
        item.action, item.status, item.detail = "gone", "DELETE_COMPLETE", f"no such stack in account {owner}"
        return item
    tags = {str(t["Key"]): str(t["Value"]) for t in stack.get("Tags") or []}
    item.status = str(stack.get("StackStatus", ""))
    item.created = _aware(stack.get("CreationTime")) or recorded
    if item.status == "DELETE_COMPLETE":
        item.action, item.detail = "gone", f"deleted (seen by its stack id in account {account_of(stack.get('StackId')) or account})"
    elif tags.get(RUN_ID_TAG) != entry.run_id:
        item.action = "refused"
        item.detail = f"the stack does not carry {RUN_ID_TAG}={entry.run_id}"
    elif item.created is not None and item.created >= cutoff:
        item.detail = _young(item.created, now, older_than)
    else:
        item.action = "would delete"
    return item


def stack_buckets(session: Any, stack_name: str) -> list[str]:
    """Physical names of the S3 buckets that failed to delete with their stack (not empty). A bucket the template
    keeps (DeletionPolicy Retain: DELETE_SKIPPED) is never among them: its contents are the template's to keep."""
    return [
        res["physical_id"]
        for res in session.stack_resources(stack_name)
        if res["resource_type"] == "AWS::S3::Bucket" and res["physical_id"] and res["status"] == "DELETE_FAILED"
    ]


def delete_emptying_buckets(session: Any, stack: str, *, run_id: str | None, timeout: float) -> list[str]:
    """DeleteStack and wait; on DELETE_FAILED empty the buckets that blocked it (every version) and try once more.

    The one implementation for `sweep` and a run's own clean-up. delete_stack refuses a stack without the run's
    tag (Refusal), so only buckets of this tool's own stacks are ever emptied. Returns the buckets emptied;
    raises AwsError when the stack still cannot be deleted.
    """
    from orchestrator.aws.session import AwsError  # the boto3 boundary; only needed once something is deleted

    emptied: list[str] = []
    for attempt in (1, 2):
        try:
            stack_id = session.delete_stack(stack, run_id=run_id) or stack
            session.wait_deleted(stack_id, timeout=timeout)
            return emptied
        except AwsError as exc:
            if attempt == 2 or exc.code != "DELETE_FAILED":
                raise
            log.warning("stack_delete_retry", stack=stack, reason=str(exc))
            try:
                for bucket in stack_buckets(session, stack):
                    session.delete_bucket_contents(bucket)
                    emptied.append(bucket)
            except AutofixError as empty_exc:
                raise AwsError(f"{exc}; emptying its buckets failed: {empty_exc}", operation="DeleteStack",
                               code="DELETE_FAILED") from None
    return emptied


def delete_item(session: Any, item: SweepItem, *, journal: Journal | None = None, wait_timeout: float = 1800.0) -> None:
    """Delete one tagged stack; on DELETE_FAILED empty its S3 buckets (every version) and retry once."""
    if item.action == "gone":
        # Seen gone in the account that created it (find_candidates): the entry may be closed.
        if journal is not None and item.run_id:
            journal.mark_deleted(item.run_id, item.stack_name)
            item.detail += "; journal entry closed"
        return
    if item.action != "would delete":
        return
    try:
        # delete_stack itself refuses a stack without the tag: the guard lives next to the API call.
        item.buckets_emptied = delete_emptying_buckets(session, item.stack_name, run_id=item.run_id,
                                                       timeout=wait_timeout)
    except Refusal as exc:
        item.action, item.detail = "refused", str(exc)
        log.warning("sweep_refused", stack=item.stack_name, reason=str(exc))
        return
    except AutofixError as exc:
        item.action, item.detail = "failed", str(exc)
        log.error("sweep_delete_failed", stack=item.stack_name, reason=str(exc))
        return
    item.action, item.status = "deleted", "DELETE_COMPLETE"
    if item.run_id and item.stack_name.endswith("-fixtures"):
        from orchestrator.aws.prereqs import delete_run_certificates, delete_run_key_pairs, delete_run_user_pools

        # The run's key pair, imported certificate and user pool fixtures are made through their APIs, not
        # as stack resources (CloudFormation cannot import a certificate; the sandbox has no real key pair
        # or user pool type).
        delete_run_key_pairs(session, item.run_id)
        delete_run_certificates(session, item.run_id)
        delete_run_user_pools(session, item.run_id)
    log.info("sweep_deleted", stack=item.stack_name, run_id=item.run_id, buckets_emptied=len(item.buckets_emptied))
    if journal is not None and item.run_id:
        journal.mark_deleted(item.run_id, item.stack_name)


@dataclass(frozen=True)
class SweepRequest:
    """What one sweep looks for and may do: the target, the age threshold, --yes, the journal."""

    target: str
    older_than: timedelta
    endpoint_url: str | None = None
    yes: bool = False
    journal: Journal | None = None
    profile: str | None = None
    role_arn: str | None = None
    allowed_accounts: tuple[str, ...] = ()
    credentials: dict | None = None
    wait_timeout: float = 1800.0
    now: datetime | None = None
    emulator_endpoints: tuple[str, ...] = ()


def sweep_region(session: Any, *, region: str, **fields: Any) -> list[SweepItem]:
    """Find (and with `yes`, delete) this region's leftovers; the keywords are SweepRequest's fields."""
    request = SweepRequest(**fields)
    journal = request.journal
    entries = (
        _journal_entries_for(journal.pending(), target=request.target, region=region, endpoint_url=request.endpoint_url)
        if journal is not None
        else []
    )
    items = find_candidates(session, region=region, older_than=request.older_than, journal_entries=entries, now=request.now)
    for item in items:
        log.info("sweep_candidate", stack=item.stack_name, region=region, action=item.action, sources=item.sources)
        if request.yes:
            delete_item(session, item, journal=journal, wait_timeout=request.wait_timeout)
        elif item.action == "gone":
            item.detail += "; would close the journal entry"
    return items


def sweep(*, regions: list[str], **fields: Any) -> list[SweepItem]:
    """Sweep every region of a persistent target; dry run (nothing deleted) unless `yes`.

    The keywords are SweepRequest's fields (target, older_than, endpoint_url, yes, journal, profile,
    role_arn, allowed_accounts, credentials, wait_timeout)."""
    from orchestrator.aws.guard import Guard
    from orchestrator.aws.session import AwsSession
    from orchestrator.aws.targets import Target, open_target

    request = SweepRequest(**{**fields, "allowed_accounts": tuple(fields.get("allowed_accounts") or ()),
                              "emulator_endpoints": tuple(fields.get("emulator_endpoints") or ())})
    if request.target == "embedded":
        raise BadInput(
            "sweep needs a target that outlives a run: --target endpoint --endpoint-url URL, or --target aws "
            "(an embedded sandbox is discarded with its run)"
        )
    guard = Guard(action="sweep", allowed_accounts=tuple(str(a) for a in request.allowed_accounts),
                  emulator_endpoints=request.emulator_endpoints)
    items: list[SweepItem] = _embedded_entries(request.journal, request.older_than, request.yes)
    for region in regions:
        spec = Target(kind=request.target, region=region, endpoint_url=request.endpoint_url, profile=request.profile,
                      role_arn=request.role_arn, credentials=request.credentials,
                      allowed_accounts=request.allowed_accounts)
        with open_target(spec, guard=guard) as opened:
            session = AwsSession(opened)
            items += sweep_region(session, region=region, **{**vars(request), "endpoint_url": opened.endpoint_url})
    return items


def _embedded_entries(journal: Journal | None, older_than: timedelta, yes: bool) -> list[SweepItem]:
    """Pending entries of embedded runs: their sandbox ended with the run, so there is nothing to delete;
    they are closed (with --yes) once older than --older-than, like every other entry."""
    if journal is None:
        return []
    cutoff = datetime.now(timezone.utc) - older_than
    items = []
    for entry in journal.pending():
        recorded = _parse_time(entry.recorded_at)
        if entry.target != "embedded" or recorded is None or recorded >= cutoff:
            continue
        item = SweepItem(region=entry.region, stack_name=entry.stack_name, run_id=entry.run_id,
                         status="DELETE_COMPLETE", created=recorded, sources=["journal"], action="gone",
                         detail="its embedded sandbox ended with its run")
        if yes:
            journal.mark_deleted(entry.run_id, entry.stack_name, reason="sandbox discarded")
            item.detail += "; journal entry closed"
        else:
            item.detail += "; would close the journal entry"
        items.append(item)
    return items


def exit_code(items: Iterable[SweepItem]) -> int:
    """1 when a deletion failed; refusals are reported but are the guard working, not an error."""
    return 1 if any(i.action == "failed" for i in items) else 0
