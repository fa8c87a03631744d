"""A fast subset of the real-template corpus, deployed with plain boto3 on the embedded sandbox (as through
`cfn-autofix sandbox`): no HTTP 5xx, the outcome the manifest records, and a green that was really built."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from orchestrator.aws.targets import sandbox_client

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpora"))
import corpus_files  # noqa: E402  (the manifest is committed; the template files are located, never committed)

MANIFEST = corpus_files.manifest()
FAST = [e for e in MANIFEST["templates"] if e["id"] in set(MANIFEST["subsets"]["fast"])]


@pytest.mark.parametrize("entry", FAST, ids=[e["id"] for e in FAST])
def test_fast_corpus_template(sandbox, entry):
    path = corpus_files.template_path(entry)
    if path is None:
        pytest.skip("corpus files not materialized: python tests/corpora/corpus_files.py --mirror-root DIR")
    statuses: list[int] = []
    cf = sandbox_client(sandbox, "cloudformation")
    cf.meta.events.register("after-call", lambda http_response, **_: statuses.append(http_response.status_code))
    name = "corpus-" + entry["id"][:40].strip("-")
    cf.create_stack(StackName=name, TemplateBody=path.read_text(),
                    Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in entry["parameters"].items()],
                    Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"])
    stack = cf.describe_stacks(StackName=name)["Stacks"][0]
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    cf.list_stack_resources(StackName=name)
    assert all(code < 500 for code in statuses), statuses
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason") for e in events if e["ResourceStatus"].endswith("_FAILED")}
    if entry["expected"]["outcome"] == "green":
        assert stack["StackStatus"] == "CREATE_COMPLETE", failed
        fidelity = sandbox.fidelity(name)
        assert not fidelity["sandbox_limitations"]
        built = len(fidelity["modeled"]) + len(fidelity["stand_in"])
        # Substantive, as the bench grades it: at most 10% of what was built is a stand-in.
        assert built and len(fidelity["stand_in"]) <= 0.1 * built, fidelity
    else:
        assert stack["StackStatus"] != "CREATE_COMPLETE"
