"""EC2 seams of the sandbox (RunInstances' block devices as EC2 builds them), installed when moto's EC2 loads.

AWS (EC2 User Guide, "Block device mappings"; RunInstances BlockDeviceMapping.Ebs): an EBS mapping needs a
VolumeSize or a SnapshotId, except the mapping of the image's root device, which is created from the
image's root snapshot and takes its size when VolumeSize is absent (a launch template or launch
configuration commonly sets only Encrypted/VolumeType on `/dev/xvda`). Any other mapping without either
is refused: MissingParameter "The request must contain the parameter size or snapshotId" (the text real
EC2 returned, getmoto/moto#2949). moto knows no root snapshot and refuses the root mapping too.

Images: moto's catalogue and images made in the sandbox (CreateImage, RegisterImage) have a root device
name and a root snapshot, which decide. AWS's public catalogue (ECS-optimized, Amazon Linux, Ubuntu ...
AMIs named by templates' maps or public SSM parameters) is not in the sandbox, which accepts such ids as
moto does (its AMI validation is off): for such an image the root device is taken to be the conventional
one the mapping names (`/dev/xvda`, Amazon Linux family; `/dev/sda1`, Ubuntu/Windows/RHEL), with an
UNKNOWN_IMAGE_ROOT_GIB root snapshot. That is an assumption the sandbox cannot check; it is stated here.
"""

from __future__ import annotations

import types
from typing import Any

from orchestrator.sandbox import post_import
from orchestrator.sandbox.context import context_for

MODULE = "moto.ec2.models.instances"
CONVENTIONAL_ROOT_DEVICES = ("/dev/xvda", "/dev/sda1")
UNKNOWN_IMAGE_ROOT_GIB = 8  # the Amazon Linux root snapshot's size
_SEAM_PARAMETERS = ("self", "size", "device_path", "snapshot_id", "encrypted", "delete_on_termination",
                    "kms_key_id", "volume_type")
ORIGINALS: dict[str, Any] = {}


class Ec2SeamChanged(RuntimeError):
    """moto's Instance.add_block_device no longer has the signature the seam wraps."""


def root_source(backend: Any, image_id: str | None, device: str) -> tuple[str | None, int | None]:
    """(snapshot id, size) a mapping without VolumeSize/SnapshotId gets: the image's root snapshot when the
    device is the image's root device; (None, None) when it is not (a blank volume, which needs a size)."""
    image = (getattr(backend, "amis", None) or {}).get(image_id or "")
    if image is not None:
        snapshot = getattr(image, "ebs_snapshot", None)
        if device == getattr(image, "root_device_name", None) and snapshot is not None:
            return snapshot.id, None
        return None, None
    if device in CONVENTIONAL_ROOT_DEVICES:
        return None, UNKNOWN_IMAGE_ROOT_GIB
    return None, None


def _add_block_device(self: Any, size: int | None, device_path: str, snapshot_id: str | None, encrypted: bool,
                      delete_on_termination: bool, kms_key_id: str | None, volume_type: str | None) -> None:
    original = ORIGINALS["add_block_device"]
    backend = self.ec2_backend
    if context_for(getattr(backend, "account_id", None)) is None or size is not None or snapshot_id:
        return original(self, size, device_path, snapshot_id, encrypted, delete_on_termination, kms_key_id, volume_type)
    snapshot_id, size = root_source(backend, getattr(self, "image_id", None), device_path)
    if snapshot_id is None and size is None:
        from moto.ec2.exceptions import MissingParameterError

        raise MissingParameterError("size or snapshotId")
    return original(self, size, device_path, snapshot_id, encrypted, delete_on_termination, kms_key_id, volume_type)


def _install(module: types.ModuleType) -> None:
    instance = module.Instance
    current = instance.add_block_device
    if current is _add_block_device:
        return
    names = current.__code__.co_varnames[: current.__code__.co_argcount]
    if names != _SEAM_PARAMETERS:
        raise Ec2SeamChanged(f"moto's Instance.add_block_device takes {names}, the sandbox wraps {_SEAM_PARAMETERS}")
    ORIGINALS["add_block_device"] = current
    instance.add_block_device = _add_block_device


def problems() -> list[str]:
    """What no longer holds in moto for the seam, read from its source text: importing EC2 at start-up (or
    parsing the module) would cost what the lazy import saves."""
    import re
    from pathlib import Path

    import moto

    source = Path(moto.__file__).parent.joinpath(*MODULE.split(".")[1:]).with_suffix(".py")
    if not source.is_file():
        return [f"{MODULE} is missing"]
    with source.open(encoding="utf-8") as handle:
        match = re.search(r"\n    def add_block_device\((.*?)\)\s*(?:->[^:]*)?:", handle.read(), re.S)
    if match is None:
        return ["moto's Instance.add_block_device is missing"]
    names = tuple(re.findall(r"(\w+)\s*(?::[^,]*)?(?:,|$)", match.group(1).strip()))
    if names != _SEAM_PARAMETERS:
        return [f"moto's Instance.add_block_device takes {names}, the sandbox wraps {_SEAM_PARAMETERS}"]
    return []


def install() -> None:
    """Install the EC2 seams when moto's EC2 instances module is (or has been) imported."""
    post_import.when_imported(MODULE, _install)
