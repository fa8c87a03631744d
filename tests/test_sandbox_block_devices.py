"""RunInstances' block devices in the sandbox as EC2 builds them: a root mapping without a size takes the image's
root snapshot; any other EBS mapping without a size or snapshot is refused with EC2's text."""

from __future__ import annotations

import pytest

from orchestrator.aws.targets import sandbox_client
from orchestrator.sandbox import patches_ec2
from conftest import create_stack_outcome

# The text real EC2 returned for an EBS mapping with neither VolumeSize nor SnapshotId (getmoto/moto#2949,
# checked against RunInstances by the PR's author).
NO_SIZE = "The request must contain the parameter size or snapshotId"

NETWORK = {
    "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}},
    "Subnet": {"Type": "AWS::EC2::Subnet", "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24",
                                                             "AvailabilityZone": "us-east-1a"}},
}


def fleet(image_id: str, mappings: list[dict]) -> dict:
    """A launch template (as widdix/aws-cf-templates ecs/cluster.yaml writes it) and the group launching it."""
    return {
        **NETWORK,
        "LaunchTemplate": {"Type": "AWS::EC2::LaunchTemplate", "Properties": {"LaunchTemplateData": {
            "ImageId": image_id, "InstanceType": "t3.micro", "BlockDeviceMappings": mappings}}},
        "Group": {"Type": "AWS::AutoScaling::AutoScalingGroup", "Properties": {
            "MinSize": "1", "MaxSize": "1", "DesiredCapacity": "1", "VPCZoneIdentifier": [{"Ref": "Subnet"}],
            "LaunchTemplate": {"LaunchTemplateId": {"Ref": "LaunchTemplate"},
                               "Version": {"Fn::GetAtt": ["LaunchTemplate", "LatestVersionNumber"]}}}},
    }


def deploy(sandbox, resources: dict, name: str = "fleet") -> tuple[str, dict[str, str]]:
    return create_stack_outcome(sandbox, resources, name)


def volumes_of_group(sandbox) -> dict[str, dict]:
    ec2 = sandbox_client(sandbox, "ec2")
    instances = [i for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert len(instances) == 1
    found = {}
    for mapping in instances[0]["BlockDeviceMappings"]:
        volume = ec2.describe_volumes(VolumeIds=[mapping["Ebs"]["VolumeId"]])["Volumes"][0]
        found[mapping["DeviceName"]] = volume
    return found


def test_the_root_mapping_of_a_known_image_takes_the_images_root_snapshot(sandbox):
    ec2 = sandbox_client(sandbox, "ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]
    root = image["RootDeviceName"]
    snapshot = next(m["Ebs"]["SnapshotId"] for m in image["BlockDeviceMappings"] if m["DeviceName"] == root)
    size = ec2.describe_snapshots(SnapshotIds=[snapshot])["Snapshots"][0]["VolumeSize"]
    status, failed = deploy(sandbox, fleet(image["ImageId"], [
        {"DeviceName": root, "Ebs": {"Encrypted": True, "VolumeType": "gp3"}}]))
    assert (status, failed) == ("CREATE_COMPLETE", {})
    volume = volumes_of_group(sandbox)[root]
    assert (volume["SnapshotId"], volume["Size"], volume["Encrypted"], volume["VolumeType"]) == (snapshot, size, True, "gp3")


def test_a_data_mapping_without_size_or_snapshot_fails_with_ec2s_text(sandbox):
    image = sandbox_client(sandbox, "ec2").describe_images(Owners=["amazon"])["Images"][0]
    status, failed = deploy(sandbox, fleet(image["ImageId"], [
        {"DeviceName": image["RootDeviceName"], "Ebs": {"VolumeType": "gp3"}},
        {"DeviceName": "/dev/xvdf", "Ebs": {"VolumeType": "gp3"}}]))
    assert status == "CREATE_FAILED"
    assert list(failed) == ["Group"] and NO_SIZE in failed["Group"]


def test_a_sized_data_mapping_is_built_as_given(sandbox):
    image = sandbox_client(sandbox, "ec2").describe_images(Owners=["amazon"])["Images"][0]
    status, failed = deploy(sandbox, fleet(image["ImageId"], [
        {"DeviceName": "/dev/xvdf", "Ebs": {"VolumeSize": 20, "VolumeType": "gp3"}}]))
    assert (status, failed) == ("CREATE_COMPLETE", {})
    assert volumes_of_group(sandbox)["/dev/xvdf"]["Size"] == 20


@pytest.mark.parametrize("device", ["/dev/xvda", "/dev/sda1"])
def test_an_image_outside_the_sandboxs_catalogue_has_a_conventional_root_device(sandbox, device):
    # The ECS-optimized AMI widdix/aws-cf-templates maps for us-east-1: a public image the sandbox has no data for.
    status, failed = deploy(sandbox, fleet("ami-07920be66ff9ab12e", [
        {"DeviceName": device, "Ebs": {"Encrypted": True, "VolumeType": "gp3"}}]))
    assert (status, failed) == ("CREATE_COMPLETE", {})
    assert volumes_of_group(sandbox)[device]["Size"] == patches_ec2.UNKNOWN_IMAGE_ROOT_GIB


def test_an_unconventional_device_of_an_unknown_image_is_a_blank_volume_that_needs_a_size(sandbox):
    status, failed = deploy(sandbox, fleet("ami-07920be66ff9ab12e", [{"DeviceName": "/dev/sdb", "Ebs": {}}]))
    assert status == "CREATE_FAILED" and NO_SIZE in failed["Group"]


def test_the_seam_matches_moto():
    assert patches_ec2.problems() == []


def test_a_post_import_hook_runs_once_after_the_module_executes(tmp_path, monkeypatch):
    from orchestrator.sandbox import post_import

    (tmp_path / "h11a_hooked.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    post_import.when_imported("h11a_hooked", lambda module: seen.append(module.VALUE))
    assert seen == []
    import h11a_hooked  # noqa: F401 - the import the hook waits for

    post_import.when_imported("h11a_hooked", lambda module: seen.append(module.VALUE + 1))
    assert seen == [1, 2]
