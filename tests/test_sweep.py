"""Sweep against a plain moto server: old tagged stacks go, untagged and young ones stay, dry run deletes nothing
(a bucket that blocks the delete: tests/test_sandbox_deletion.py, on the sandbox, which models S3's refusal)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from moto.cloudformation.models import cloudformation_backends

from orchestrator.aws.session import AwsSession
from orchestrator.errors import BadInput
from orchestrator.aws.journal import Journal
from orchestrator.aws.sweep import RUN_ID_TAG, exit_code, parse_age, sweep, sweep_region
from orchestrator.aws.targets import DUMMY_CREDENTIALS, Target

REGION = "us-west-2"
ACCOUNT = "123456789012"  # moto's account for the dummy key pair

QUEUE = json.dumps({"Resources": {"Q": {"Type": "AWS::SQS::Queue"}}})


@pytest.fixture(scope="module")
def endpoint(moto_url):
    return moto_url


@pytest.fixture
def session(endpoint):
    return AwsSession(Target(kind="endpoint", region=REGION, endpoint_url=endpoint, credentials=dict(DUMMY_CREDENTIALS)))


@pytest.fixture
def stacks(session, request):
    """Three stacks named after the test: old and tagged, young and tagged, old and untagged."""
    base = request.node.name.replace("_", "-")[:60]
    names = {"old": f"{base}-old", "young": f"{base}-young", "untagged": f"{base}-untagged"}
    session.create_stack(names["old"], QUEUE, tags={RUN_ID_TAG: "run-old"})
    session.create_stack(names["young"], QUEUE, tags={RUN_ID_TAG: "run-young"})
    session.create_stack(names["untagged"], QUEUE, tags={"owner": "someone-else"})
    backdate(names["old"], hours=10)
    backdate(names["untagged"], hours=10)
    yield names
    for name in names.values():
        # Clean up behind the test without the sweep's guard (the untagged stack is ours here).
        session.client("cloudformation").delete_stack(StackName=name)


def backdate(stack_name: str, *, hours: float) -> None:
    for stack in cloudformation_backends[ACCOUNT][REGION].stacks.values():
        if stack.name == stack_name:
            stack.creation_time = stack.creation_time - timedelta(hours=hours)


def alive(session, name: str) -> bool:
    stack = session.describe_stack(name)
    return stack is not None and stack["StackStatus"] != "DELETE_COMPLETE"


@pytest.mark.parametrize(
    "case,text,expected",
    [
        ("hours", "6h", timedelta(hours=6)),
        ("minutes", "30m", timedelta(minutes=30)),
        ("days", "2d", timedelta(days=2)),
        ("compound", "1h30m", timedelta(minutes=90)),
        ("zero", "0", timedelta(0)),
    ],
)
def test_parse_age(case, text, expected):
    assert parse_age(text) == expected


@pytest.mark.parametrize("case,text", [("no-unit", "6"), ("unknown-unit", "6y"), ("garbage", "soon"), ("trailing", "6h x")])
def test_parse_age_rejects(case, text):
    with pytest.raises(BadInput, match="--older-than"):
        parse_age(text)


def test_dry_run_lists_old_tagged_stacks_and_deletes_nothing(session, endpoint, stacks):
    items = sweep(target="endpoint", regions=[REGION], endpoint_url=endpoint, older_than=timedelta(hours=6))
    mine = [i for i in items if i.stack_name in stacks.values()]
    assert [(i.stack_name, i.action, i.run_id, i.sources) for i in mine] == [
        (stacks["old"], "would delete", "run-old", ["tag"])
    ]
    assert all(alive(session, name) for name in stacks.values())


def test_yes_deletes_old_tagged_stacks_only(session, endpoint, stacks):
    items = sweep(target="endpoint", regions=[REGION], endpoint_url=endpoint, older_than=timedelta(hours=6), yes=True)
    mine = {i.stack_name: i for i in items if i.stack_name in stacks.values()}
    assert mine[stacks["old"]].action == "deleted"
    assert not alive(session, stacks["old"])
    assert alive(session, stacks["young"]) and alive(session, stacks["untagged"])
    assert exit_code(items) == 0


def test_journal_entries_are_swept_closed_and_guarded(session, endpoint, stacks, tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    long_ago = (datetime.now(timezone.utc) - timedelta(hours=12)).isoformat(timespec="seconds")
    lines = [
        # A run that crashed after CreateStack: found by its tag and by the journal.
        {"op": "create", "run_id": "run-old", "stack_name": stacks["old"], "target": "endpoint",
         "region": REGION, "endpoint_url": endpoint, "recorded_at": long_ago},
        # The stack itself is young (a run may still be using it), whatever the journal line says.
        {"op": "create", "run_id": "run-young", "stack_name": stacks["young"], "target": "endpoint",
         "region": REGION, "endpoint_url": endpoint, "recorded_at": long_ago},
        # A stack that never came to exist, in the account these credentials reach.
        {"op": "create", "run_id": "run-ghost", "stack_name": "ghost-stack", "target": "endpoint",
         "region": REGION, "endpoint_url": endpoint, "recorded_at": long_ago, "account_id": ACCOUNT},
        # The same, written before the journal recorded accounts: absence here proves nothing.
        {"op": "create", "run_id": "run-legacy", "stack_name": "legacy-ghost", "target": "endpoint",
         "region": REGION, "endpoint_url": endpoint, "recorded_at": long_ago},
        # A journal entry naming a stack without the tag: never touched.
        {"op": "create", "run_id": "run-x", "stack_name": stacks["untagged"], "target": "endpoint",
         "region": REGION, "endpoint_url": endpoint, "recorded_at": long_ago},
        # Another endpoint's entry: not this sweep's business.
        {"op": "create", "run_id": "run-y", "stack_name": "elsewhere", "target": "endpoint",
         "region": REGION, "endpoint_url": "http://127.0.0.1:1", "recorded_at": long_ago},
    ]
    journal.path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    dry = sweep(target="endpoint", regions=[REGION], endpoint_url=endpoint, older_than=timedelta(hours=6), journal=journal)
    actions = {i.stack_name: i.action for i in dry}
    assert actions[stacks["old"]] == "would delete"
    assert next(i.sources for i in dry if i.stack_name == stacks["old"]) == ["tag", "journal"]
    # Found and shown, never touched: its run may still be going on.
    assert actions[stacks["young"]] == "skipped"
    assert "younger than --older-than" in next(i.detail for i in dry if i.stack_name == stacks["young"])
    assert actions["ghost-stack"] == "gone"
    assert actions["legacy-ghost"] == "skipped"
    assert actions[stacks["untagged"]] == "refused"
    assert "elsewhere" not in actions
    assert len(journal.pending()) == 6
    # A dry run claims nothing it did not do.
    assert all("closed" not in i.detail for i in dry)

    items = sweep(
        target="endpoint", regions=[REGION], endpoint_url=endpoint, older_than=timedelta(hours=6), journal=journal, yes=True
    )
    actions = {i.stack_name: i.action for i in items}
    assert actions[stacks["old"]] == "deleted"
    assert not alive(session, stacks["old"])
    assert alive(session, stacks["young"]) and alive(session, stacks["untagged"])
    assert sorted(e.stack_name for e in journal.pending()) == sorted(
        ["elsewhere", "legacy-ghost", stacks["untagged"], stacks["young"]])


def test_another_accounts_stack_is_not_ours_to_judge(session, endpoint, tmp_path):
    """Entries of another account: never 'gone', never closed, never deleted, whatever these credentials see."""
    name = "other-account-stack"
    session.create_stack(name, QUEUE, tags={RUN_ID_TAG: "run-other"})  # a live stack of the same name here
    journal = Journal(tmp_path / "journal.jsonl")
    long_ago = (datetime.now(timezone.utc) - timedelta(hours=12)).isoformat(timespec="seconds")
    other_id = f"arn:aws:cloudformation:{REGION}:999999999999:stack/vanished/0f0f0f0f-0000-0000-0000-000000000000"
    lines = [
        {"op": "create", "run_id": "run-a", "stack_name": "vanished", "target": "endpoint", "region": REGION,
         "endpoint_url": endpoint, "recorded_at": long_ago, "account_id": "999999999999"},
        {"op": "create", "run_id": "run-b", "stack_name": "vanished-too", "target": "endpoint", "region": REGION,
         "endpoint_url": endpoint, "recorded_at": long_ago},
        {"op": "stack_id", "run_id": "run-b", "stack_name": "vanished-too", "stack_id": other_id},
        {"op": "create", "run_id": "run-other", "stack_name": name, "target": "endpoint", "region": REGION,
         "endpoint_url": endpoint, "recorded_at": long_ago, "account_id": "999999999999"},
    ]
    journal.path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    before = journal.path.read_bytes()
    try:
        for yes in (False, True):
            items = sweep_region(session, region=REGION, target="endpoint", endpoint_url=endpoint,
                                 older_than=timedelta(hours=6), yes=yes, journal=journal)
            judged = {i.stack_name: i for i in items if i.stack_name in ("vanished", "vanished-too")}
            assert {n: i.action for n, i in judged.items()} == {"vanished": "skipped", "vanished-too": "skipped"}
            assert all("not ours to judge" in i.detail for i in judged.values())
            assert journal.path.read_bytes() == before  # nothing recorded for what was not observed
        assert alive(session, name)  # young by its creation time: the tag listing leaves it too
    finally:
        session.client("cloudformation").delete_stack(StackName=name)


def test_dry_run_writes_nothing_and_claims_nothing(session, endpoint, tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    long_ago = (datetime.now(timezone.utc) - timedelta(hours=12)).isoformat(timespec="seconds")
    journal.path.write_text(json.dumps(
        {"op": "create", "run_id": "run-g", "stack_name": "never-made", "target": "endpoint", "region": REGION,
         "endpoint_url": endpoint, "recorded_at": long_ago, "account_id": ACCOUNT}) + "\n")
    before = journal.path.read_bytes()
    items = sweep_region(session, region=REGION, target="endpoint", endpoint_url=endpoint,
                         older_than=timedelta(hours=6), yes=False, journal=journal)
    ghost = next(i for i in items if i.stack_name == "never-made")
    assert ghost.action == "gone" and "would close" in ghost.detail and "closed" not in ghost.detail.replace("would close", "")
    assert journal.path.read_bytes() == before
    items = sweep_region(session, region=REGION, target="endpoint", endpoint_url=endpoint,
                         older_than=timedelta(hours=6), yes=True, journal=journal)
    assert next(i for i in items if i.stack_name == "never-made").detail.endswith("journal entry closed")
    assert journal.pending() == []


def test_embedded_target_is_refused_as_bad_input():
    with pytest.raises(BadInput, match="--target endpoint"):
        sweep(target="embedded", regions=[REGION], older_than=timedelta(0))
