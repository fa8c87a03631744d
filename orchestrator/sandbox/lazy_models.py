"""Defers moto's import of every service's models until a template names one of its resource types.

moto.cloudformation.parsing imports ~30 service packages at import time only so that
CloudFormationModel.__subclasses__() is complete when it builds its type map; that is most of the
sandbox's cold start (EC2 alone ~1 s of CPU). Here parsing is imported once with those packages
replaced by placeholders, and its three type-map functions are replaced by maps that import the
package of a resource type's namespace on first look-up. A placeholder left in a module's globals
forwards to the real package on first use; a package another module really needs at import time
(`from moto.x.models import name`) fails loudly, never silently. Everything is keyed to one moto
version (patches.check_seams reports a mismatch); on any other version moto is imported unchanged.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from typing import Any, Callable

from orchestrator.sandbox import post_import

MOTO_VERSION = "5.2.5"

# Resource-type namespace -> the moto module whose import defines its CloudFormation models (moto 5.2.5,
# as the eager import finds them; tests/test_sandbox_lazy_models.py compares with an eager import).
NAMESPACE_MODULES: dict[str, str] = {
    "AWS::ApiGateway": "moto.apigateway.models", "AWS::AutoScaling": "moto.autoscaling.models",
    "AWS::Batch": "moto.batch.models", "AWS::CloudWatch": "moto.cloudwatch.models",
    "AWS::DataPipeline": "moto.datapipeline.models", "AWS::DynamoDB": "moto.dynamodb.models",
    "AWS::EC2": "moto.ec2.models", "AWS::ECR": "moto.ecr.models", "AWS::ECS": "moto.ecs.models",
    "AWS::EFS": "moto.efs.models", "AWS::EMR": "moto.emr.models", "AWS::ElasticLoadBalancing": "moto.elb.models",
    "AWS::ElasticLoadBalancingV2": "moto.elbv2.models", "AWS::Events": "moto.events.models",
    "AWS::IAM": "moto.iam.models", "AWS::IoT": "moto.iot.models", "AWS::KMS": "moto.kms.models",
    "AWS::Kinesis": "moto.kinesis.models", "AWS::Lambda": "moto.awslambda.models", "AWS::Logs": "moto.logs.models",
    "AWS::RDS": "moto.rds.models", "AWS::Redshift": "moto.redshift.models", "AWS::Route53": "moto.route53.models",
    "AWS::S3": "moto.s3.models", "AWS::SNS": "moto.sns.models", "AWS::SQS": "moto.sqs.models",
    "AWS::SSM": "moto.ssm.models", "AWS::SageMaker": "moto.sagemaker.models",
    "AWS::StepFunctions": "moto.stepfunctions.models",
}

# Packages parsing (and moto.cloudformation.models) import only for their side effect of defining models,
# or use by attribute at run time. Each `moto.x` here is a placeholder while parsing is imported, with
# its `moto.x.models` when that is a package; a real submodule (moto.ec2.models.core) still loads.
_DEFERRED_SERVICES = (
    "apigateway", "autoscaling", "awslambda", "batch", "cloudwatch", "datapipeline", "dynamodb", "ec2", "ecr",
    "ecs", "efs", "elb", "elbv2", "emr", "events", "iot", "kinesis", "rds", "redshift", "route53", "s3", "sagemaker",
    "sns", "sqs", "ssm", "stepfunctions",
)

_LOCK = threading.RLock()
_state: dict[str, Any] = {"deferred": False, "window": False, "placeholders": {}}


class _Placeholder(types.ModuleType):
    """Stands in for a deferred package while parsing is imported; afterwards forwards to the real one."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if _state["window"]:
            if name.endswith("_backends"):
                return _LazyBackends(self.__name__, name)
            # Otherwise a submodule for the import system to load; any other name fails the import loudly.
            raise AttributeError(name)
        return getattr(importlib.import_module(self.__name__), name)


class _LazyBackends:
    """A deferred package's `x_backends` (a BackendDict: only ever subscripted or iterated) imported by name."""

    def __init__(self, module: str, name: str):
        self._where = (module, name)

    def _real(self) -> Any:
        return getattr(importlib.import_module(self._where[0]), self._where[1])

    def __getitem__(self, key: Any) -> Any:
        return self._real()[key]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real(), name)

    def __iter__(self) -> Any:
        return iter(self._real())

    def __contains__(self, key: Any) -> bool:
        return key in self._real()

    def __len__(self) -> int:
        return len(self._real())


class _PlaceholderLoader(importlib.abc.Loader):
    def __init__(self, search_locations: list[str] | None):
        self.search_locations = search_locations

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        module = _Placeholder(spec.name)
        if self.search_locations is not None:
            module.__path__ = list(self.search_locations)
        _state["placeholders"][spec.name] = module
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        return None


class _WindowFinder(importlib.abc.MetaPathFinder):
    """Placeholders for the deferred packages, only while parsing is being imported."""

    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if not _state["window"] or fullname not in self.names:
            return None
        real = importlib.machinery.PathFinder.find_spec(fullname, path)
        if real is None:
            return None
        loader = _PlaceholderLoader(real.submodule_search_locations)
        return importlib.machinery.ModuleSpec(fullname, loader, is_package=real.submodule_search_locations is not None)


class _ChildAttacher(importlib.abc.MetaPathFinder):
    """When a formerly deferred package really loads, its submodules loaded under the placeholder become
    its attributes again (the import system only sets them when it loads the child)."""

    def __init__(self, names: set[str]):
        self.names = names

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if _state["window"] or fullname not in self.names:
            return None
        prefix = fullname + "."

        def attach_children(module: types.ModuleType) -> None:
            for name, child in list(sys.modules.items()):
                if name.startswith(prefix) and "." not in name[len(prefix):]:
                    setattr(module, name[len(prefix):], child)

        return post_import.spec_running(fullname, path, before=attach_children)


def defer_service_imports() -> bool:
    """Import moto.cloudformation with the service packages deferred; False when parsing was already
    imported (then moto's own complete map is in place) or moto is not the version this is keyed to."""
    with _LOCK:
        if _state["deferred"] or "moto.cloudformation.parsing" in sys.modules:
            return _state["deferred"]
        import moto

        if moto.__version__ != MOTO_VERSION:
            return False
        names = {f"moto.{s}" for s in _DEFERRED_SERVICES if f"moto.{s}" not in sys.modules}
        names |= {f"{n}.models" for n in names}
        window, attacher = _WindowFinder(names), _ChildAttacher(names)
        sys.meta_path.insert(0, window)
        _state["window"] = True
        try:
            import moto.cloudformation.models  # noqa: F401 - the import this window exists for
            from moto.cloudformation import parsing
        finally:
            _state["window"] = False
            sys.meta_path.remove(window)
            _drop_placeholders()
        sys.meta_path.insert(0, attacher)
        _install_lazy_maps(parsing)
        _state["deferred"] = True
        return True


def _drop_placeholders() -> None:
    for name, placeholder in _state["placeholders"].items():
        if sys.modules.get(name) is placeholder:
            del sys.modules[name]
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name)
        if parent is not None and parent.__dict__.get(child) is placeholder:
            delattr(parent, child)


class _LazyTypeMap(dict):  # type: ignore[type-arg]
    """Resource type -> value; a miss imports the namespace's moto package first. Listing loads all."""

    def __init__(self, value: Callable[[type], Any]):
        super().__init__()
        self.value = value

    def _ensure(self, resource_type: Any) -> None:
        if isinstance(resource_type, str) and not dict.__contains__(self, resource_type):
            load_namespace(resource_type.rsplit("::", 1)[0])

    def __contains__(self, resource_type: object) -> bool:
        self._ensure(resource_type)
        return dict.__contains__(self, resource_type)

    def __getitem__(self, resource_type: str) -> Any:
        self._ensure(resource_type)
        return dict.__getitem__(self, resource_type)

    def get(self, resource_type: str, default: Any = None) -> Any:
        self._ensure(resource_type)
        return dict.get(self, resource_type, default)

    def __iter__(self) -> Any:
        load_all()
        return dict.__iter__(self)

    def __len__(self) -> int:
        load_all()
        return dict.__len__(self)

    def keys(self) -> Any:
        load_all()
        return dict.keys(self)

    def items(self) -> Any:
        load_all()
        return dict.items(self)

    def values(self) -> Any:
        load_all()
        return dict.values(self)


_MODEL_MAP = _LazyTypeMap(lambda cls: cls)
_NAME_MAP = _LazyTypeMap(lambda cls: cls.cloudformation_name_type())
_loaded: set[str] = set()


def _refresh() -> None:
    from moto.core.common_models import CloudFormationModel

    for cls in CloudFormationModel.__subclasses__():
        resource_type = cls.cloudformation_type()
        for target in (_MODEL_MAP, _NAME_MAP):
            dict.__setitem__(target, resource_type, target.value(cls))


def load_namespace(namespace: str) -> None:
    """Import the moto package modelling a namespace ("AWS::EC2"), once; unknown namespaces have none."""
    module = NAMESPACE_MODULES.get(namespace)
    if module is None or module in _loaded:
        return
    with _LOCK:
        if module not in _loaded:
            importlib.import_module(module)
            _loaded.add(module)
            _refresh()


def load_all() -> None:
    for namespace in NAMESPACE_MODULES:
        load_namespace(namespace)


def _get_model_list() -> list[type]:
    load_all()
    from moto.core.common_models import CloudFormationModel

    return CloudFormationModel.__subclasses__()


def _install_lazy_maps(parsing: Any) -> None:
    _refresh()
    parsing.get_model_map = lambda: _MODEL_MAP
    parsing.get_name_type_map = lambda: _NAME_MAP
    parsing.get_model_list = _get_model_list
    # moto's version scans get_model_list() for the type first, which would import every package.
    parsing.resource_name_property_from_type = _NAME_MAP.get


def deferred() -> bool:
    return bool(_state["deferred"])


def problems() -> list[str]:
    """What no longer holds in moto for the deferral (checked by the sandbox's seam check)."""
    found = []
    for namespace, module in NAMESPACE_MODULES.items():
        if importlib.util.find_spec(module.rsplit(".", 1)[0]) is None:
            found.append(f"{module} (models of {namespace}) is missing")
    if deferred():
        from moto.cloudformation import parsing

        if parsing.get_model_map() is not _MODEL_MAP:
            found.append("moto.cloudformation.parsing.get_model_map is no longer the lazy map")
    return found
