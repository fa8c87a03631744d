"""Template macros CloudFormation runs server-side before processing: AWS::LanguageExtensions (Fn::ForEach), then AWS::Serverless-2016-10-31 (SAM)."""

from __future__ import annotations

import copy
import threading
from typing import Any

from moto.cloudformation.exceptions import ValidationError
from moto.utilities.utils import get_partition

SAM = "AWS::Serverless-2016-10-31"
_LOCK = threading.Lock()  # samtranslator keeps the region in a class attribute


class _CatalogPolicies:
    """SAM's managed-policy loader answered from the AWS managed-policy catalog (no IAM call)."""

    def __init__(self, partition: str):
        self.partition = partition

    def load(self) -> dict[str, str]:
        from orchestrator.iam.policy import managed_policy_catalog

        return {name: f"arn:{self.partition}:iam::aws:policy{data.get('Path', '/')}{name}"
                for name, data in managed_policy_catalog().items()}


def transforms_of(template: Any) -> list[str]:
    declared = template.get("Transform") if isinstance(template, dict) else None
    items = declared if isinstance(declared, list) else [declared] if declared else []
    return [t for t in items if isinstance(t, str)]


def expand(template: Any, parameters: dict[str, Any], region: str) -> Any:
    """The template after CloudFormation's transforms: Fn::ForEach expanded, then SAM (unchanged without them).

    AWS runs the same translator (aws-sam-translator) when it creates the change set; an invalid SAM
    document fails CreateStack with "Transform AWS::Serverless-2016-10-31 failed with: ...".
    """
    from orchestrator.template import language_extensions

    try:
        template = language_extensions.expand(template, parameters)
    except language_extensions.TemplateError as exc:
        raise ValidationError(message=str(exc)) from None
    if SAM not in transforms_of(template):
        return template
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.translator import Translator

    policies = _CatalogPolicies(get_partition(region))
    with _LOCK:
        previous = ArnGenerator.BOTO_SESSION_REGION_NAME
        try:
            # The translator only reads the session's region_name (no AWS call is made).
            translator = Translator(None, Parser(), boto_session=_Region(region))
            return translator.translate(copy.deepcopy(template), dict(parameters or {}),
                                        get_managed_policy_map=policies.load)
        except InvalidDocumentException as exc:
            causes = " ".join(cause.message for cause in exc.causes)
            raise ValidationError(message=f"Transform {SAM} failed with: {exc.message} {causes}".strip()) from None
        except Exception as exc:  # noqa: BLE001 - the translator's own crash is still the transform failing
            raise ValidationError(message=f"Transform {SAM} failed with: {exc}") from None
        finally:
            ArnGenerator.BOTO_SESSION_REGION_NAME = previous


class _Region:
    def __init__(self, region_name: str):
        self.region_name = region_name
