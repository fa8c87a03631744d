"""Real failure texts outside the labelled corpus: the playbooks describe classes, not the corpus' messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.catalog.playbooks import class_of, load_playbooks, match_failure
from orchestrator.model import Failure

HELDOUT = json.loads((Path(__file__).parent / "fixtures" / "heldout" / "messages.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("item", HELDOUT["messages"], ids=[m["source"].split("github.com/")[-1] for m in HELDOUT["messages"]])
def test_heldout_message_gets_its_class(item):
    books = load_playbooks()
    matched = match_failure(Failure("R", item["resource_type"], item["message"], item["status"]), books)
    assert class_of(matched.playbook, books) == item["class"]


def test_a_resource_roles_runtime_refusal_is_still_the_role_policy_case():
    # The sandbox's (and AWS's) wording when a resource's role lacks its separate policy yet.
    text = ("User: arn:aws:sts::123456789012:assumed-role/AppRole/AWSCloudFormation is not authorized to perform: "
            "sqs:ReceiveMessage because no identity-based policy allows the sqs:ReceiveMessage action")
    assert match_failure(Failure("M", "AWS::Lambda::EventSourceMapping", text), load_playbooks()).playbook == (
        "missing-depends-on-iam-policy"
    )
