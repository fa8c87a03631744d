"""The sandbox imports moto's service packages when a template names their types: same type map as moto's eager
import, nothing loaded up front that a template did not ask for, and a stack still builds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap


def _run(code: str) -> dict:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_namespace_table_covers_every_model_moto_defines_eagerly() -> None:
    # moto's own eager import (parsing first, no sandbox): every model class of a real type is defined by
    # the module the table names for its namespace (or a submodule of that package).
    eager = _run("""
        import json
        from moto.cloudformation import parsing
        rows = {cls.cloudformation_type(): [cls.__module__, cls.cloudformation_name_type()]
                for cls in parsing.get_model_list()}
        print(json.dumps(rows))
    """)
    from orchestrator.sandbox.lazy_models import NAMESPACE_MODULES

    real = {t: row for t, row in eager.items() if t.startswith("AWS::") and t != "AWS::SERVICE::RESOURCE"
            and not t.startswith("AWS::CloudFormation::")}
    assert len(real) > 80
    for resource_type, (module, _) in real.items():
        named = NAMESPACE_MODULES.get(resource_type.rsplit("::", 1)[0])
        assert named is not None, f"{resource_type} ({module}) has no entry in NAMESPACE_MODULES"
        package = named.rsplit(".", 1)[0] if named.endswith(".models") else named
        assert module == named or module.startswith(package + "."), (resource_type, module, named)

    # The sandbox's lazy maps answer every one of those types with the same class and name property.
    lazy = _run("""
        import json
        import orchestrator.sandbox
        from moto.cloudformation import parsing
        types = %r
        rows = {t: [parsing.resource_class_from_type(t).__module__, parsing.resource_name_property_from_type(t)]
                for t in types}
        print(json.dumps(rows))
    """ % sorted(real))
    assert lazy == real


def test_only_the_templates_services_are_imported_and_the_stack_builds() -> None:
    result = _run("""
        import json, sys
        import boto3
        from orchestrator.sandbox import Sandbox, lazy_models
        before = sorted(m for m in ("moto.ec2.models", "moto.stepfunctions.models", "moto.rds.models",
                                    "moto.sqs.models") if m in sys.modules)
        template = {"Resources": {
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Tagged": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                        "Tags": [{"Key": "team", "Value": "a"}]}}}}
        with Sandbox() as box:
            cf = boto3.client("cloudformation", endpoint_url=box.endpoint_url, **box.credentials)
            cf.create_stack(StackName="lazy", TemplateBody=json.dumps(template))
            cf.get_waiter("stack_create_complete").wait(StackName="lazy", WaiterConfig={"Delay": 0.2})
            ec2 = boto3.client("ec2", endpoint_url=box.endpoint_url, **box.credentials)
            subnets = ec2.describe_subnets(Filters=[{"Name": "tag:team", "Values": ["a"]}])["Subnets"]
        after = sorted(m for m in ("moto.ec2.models", "moto.stepfunctions.models", "moto.rds.models",
                                   "moto.sqs.models") if m in sys.modules)
        print(json.dumps({"deferred": lazy_models.deferred(), "before": before, "after": after,
                          "subnets": len(subnets)}))
    """)
    assert result["deferred"] is True
    assert result["before"] == []
    assert result["after"] == ["moto.ec2.models", "moto.sqs.models"]
    assert result["subnets"] == 1  # stack tags and the template's tags reached EC2 through the deferred package


def test_placeholders_left_in_parsing_forward_to_the_real_packages() -> None:
    result = _run("""
        import json
        import orchestrator.sandbox
        from moto.cloudformation import parsing
        # A placeholder left in parsing's globals forwards to the real package once the window is closed.
        print(json.dumps({"ec2": parsing.ec2_models.ec2_backends.__class__.__name__,
                          "stepfunctions": parsing.sfn_models.__name__}))
    """)
    assert result == {"ec2": "BackendDict", "stepfunctions": "moto.stepfunctions.models"}
