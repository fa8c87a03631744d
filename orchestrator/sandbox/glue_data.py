"""CloudFormation models for Aurora: AWS::RDS::DBCluster, and DB instances that join a cluster, which moto's RDS
backend has but its CloudFormation lacks (its DBInstance model ignores DBClusterIdentifier)."""

from __future__ import annotations

import re
from typing import Any

from orchestrator.sandbox.glue import _BackendModel, _props


def _snake(key: str) -> str:
    """RDS's API parameter names as moto's backend takes them: DBClusterIdentifier -> db_cluster_identifier."""
    key = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", key)
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", key).lower()


class DbCluster(_BackendModel):
    """AWS::RDS::DBCluster: CreateDBCluster (the template's properties are the API's parameters); Ref is the
    lower-case cluster identifier; GetAtt Endpoint.Address/Port, ReadEndpoint.Address, DBClusterArn,
    DBClusterResourceId and MasterUserSecret.SecretArn. Deleting skips the final snapshot, as
    CloudFormation does without a Snapshot DeletionPolicy."""

    resource_type = "AWS::RDS::DBCluster"
    service = "rds"
    attributes = {"Endpoint.Address": "endpoint", "Endpoint.Port": "port", "ReadEndpoint.Address": "reader_endpoint",
                  "DBClusterArn": "arn", "DBClusterResourceId": "resource_id", "MasterUserSecret.SecretArn": "secret_arn"}
    # Properties of the template that are not CreateDBCluster parameters.
    _NOT_PARAMETERS = {"SnapshotIdentifier", "SourceDBClusterIdentifier", "RestoreType", "UseLatestRestorableTime",
                       "RestoreToTime", "AssociatedRoles"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        identifier = str(props.get("DBClusterIdentifier") or name).lower()
        kwargs = {_snake(k): v for k, v in props.items() if k not in self._NOT_PARAMETERS}
        kwargs["db_cluster_identifier"] = identifier
        if isinstance(kwargs.get("engine"), str):
            kwargs["engine"] = kwargs["engine"].lower()
        cluster = backend.create_db_cluster(kwargs)
        self.endpoint, self.reader_endpoint = cluster.endpoint, cluster.reader_endpoint
        self.port, self.arn, self.resource_id = str(cluster.port), cluster.db_cluster_arn, cluster.db_cluster_resource_id
        secret = getattr(cluster, "master_user_secret", None)
        self.secret_arn = getattr(getattr(secret, "secret", None), "arn", None)
        return identifier

    def _delete(self, backend: Any) -> None:
        cluster = backend.clusters.get(self.physical_resource_id)
        if cluster is None:
            return
        cluster.deletion_protection = False
        for member in list(getattr(cluster, "members", None) or []):
            identifier = getattr(member, "db_instance_identifier", member)
            if identifier in backend.databases:
                backend.delete_db_instance(identifier)
        backend.delete_db_cluster(self.physical_resource_id)



class DbInstance:
    """AWS::RDS::DBInstance: moto's own model, except that an instance naming a DBClusterIdentifier is created
    in that cluster (CreateDBInstance with the cluster, engine checked against the cluster's) as on AWS."""

    resource_type = "AWS::RDS::DBInstance"

    @staticmethod
    def _moto() -> Any:
        from moto.rds.models import DBInstance as MotoDBInstance

        return MotoDBInstance

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return bool(cls._moto().has_cfn_attr(attr))

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> Any:
        props = _props(cloudformation_json)
        if not props.get("DBClusterIdentifier"):
            if props.get("Port") is None and isinstance(props.get("Engine"), str):
                # moto's CloudFormation model defaults every engine to 3306; RDS gives each engine its own port
                # (the API side of moto knows them).
                try:
                    port = cls._moto().default_port(props["Engine"].lower())
                except KeyError:
                    port = None
                if port is not None:
                    cloudformation_json = {**cloudformation_json, "Properties": {**props, "Port": port}}
            return cls._moto().create_from_cloudformation_json(resource_name, cloudformation_json, account_id,
                                                               region_name, **kwargs)
        from moto.rds.models import rds_backends

        parameters = {_snake(k): v for k, v in props.items() if k not in ("SourceDBInstanceIdentifier", "DBSnapshotIdentifier")}
        parameters["db_instance_identifier"] = str(props.get("DBInstanceIdentifier") or resource_name).lower()
        parameters["db_cluster_identifier"] = str(props["DBClusterIdentifier"]).lower()
        if isinstance(parameters.get("engine"), str):
            parameters["engine"] = parameters["engine"].lower()
        return rds_backends[account_id][region_name].create_db_instance(parameters)

    @classmethod
    def update_from_cloudformation_json(cls, original_resource: Any, new_resource_name: str, cloudformation_json: dict,
                                        account_id: str, region_name: str) -> Any:
        return cls._moto().update_from_cloudformation_json(original_resource, new_resource_name, cloudformation_json,
                                                           account_id, region_name)


MODELS = (DbCluster, DbInstance)
