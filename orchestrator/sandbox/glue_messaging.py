"""CloudFormation models for Amazon MSK clusters and Amazon MQ brokers, which moto's kafka and mq backends have but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _BackendModel, _tags, camel

# The API's endpoint lists of a broker (moto answers them per instance), by the protocol GetAtt names them.
_ENDPOINT_PREFIXES = {"AmqpEndpoints": ("amqp+ssl://", "amqps://"), "MqttEndpoints": ("mqtt+ssl://",),
                      "OpenWireEndpoints": ("ssl://",), "StompEndpoints": ("stomp+ssl://",), "WssEndpoints": ("wss://",)}


class MskCluster(_BackendModel):
    """AWS::MSK::Cluster: Kafka CreateCluster with the template's broker node group, encryption, logging and
    client authentication (the API's camelCase); Ref and GetAtt Arn are the cluster ARN."""

    resource_type = "AWS::MSK::Cluster"
    service = "kafka"
    attributes = {"Arn": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        def api(key: str) -> Any:
            return camel(props[key]) if props.get(key) is not None else None

        tags = props.get("Tags")
        arn, _, _ = backend.create_cluster(
            broker_node_group_info=api("BrokerNodeGroupInfo"), client_authentication=api("ClientAuthentication"),
            cluster_name=props.get("ClusterName") or name, configuration_info=api("ConfigurationInfo"),
            encryption_info=api("EncryptionInfo"), enhanced_monitoring=props.get("EnhancedMonitoring") or "DEFAULT",
            open_monitoring=api("OpenMonitoring"), kafka_version=str(props.get("KafkaVersion")),
            logging_info=api("LoggingInfo"), number_of_broker_nodes=int(props.get("NumberOfBrokerNodes") or 1),
            tags=dict(tags) if isinstance(tags, dict) else _tags({"Tags": tags}) if tags else None,
            storage_mode=props.get("StorageMode") or "LOCAL")
        return arn

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.clusters:
            backend.delete_cluster(self.physical_resource_id, None)


class MqBroker(_BackendModel):
    """AWS::AmazonMQ::Broker: MQ CreateBroker; Ref and GetAtt Id are the broker id, GetAtt Arn, IpAddresses,
    ConfigurationId/Revision and the per-protocol endpoint lists as DescribeBroker answers them."""

    resource_type = "AWS::AmazonMQ::Broker"
    service = "mq"
    attributes = {"Id": "physical_resource_id", "Arn": "arn", "IpAddresses": "ip_addresses",
                  "ConfigurationId": "configuration_id", "ConfigurationRevision": "configuration_revision",
                  **{key: key for key in _ENDPOINT_PREFIXES}}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        def flag(key: str, default: bool = False) -> bool:
            return str(props.get(key, default)).lower() == "true"

        arn, broker_id = backend.create_broker(
            authentication_strategy=props.get("AuthenticationStrategy") or "SIMPLE",
            auto_minor_version_upgrade=flag("AutoMinorVersionUpgrade"), broker_name=props.get("BrokerName") or name,
            configuration=props.get("Configuration"), deployment_mode=props.get("DeploymentMode") or "SINGLE_INSTANCE",
            encryption_options=props.get("EncryptionOptions"), engine_type=props["EngineType"],
            engine_version=str(props.get("EngineVersion") or ""), host_instance_type=props["HostInstanceType"],
            ldap_server_metadata=props.get("LdapServerMetadata"),
            logs={k: str(v).lower() == "true" for k, v in (props.get("Logs") or {}).items()},
            maintenance_window_start_time=props.get("MaintenanceWindowStartTime"),
            publicly_accessible=flag("PubliclyAccessible"), security_groups=list(props.get("SecurityGroups") or []),
            storage_type=props.get("StorageType") or "EFS", subnet_ids=list(props.get("SubnetIds") or []),
            tags=_tags(props), users=[dict(user) for user in props.get("Users") or []])
        broker = backend.describe_broker(broker_id)
        self.arn = arn
        self.ip_addresses = [instance["ipAddress"] for instance in broker.instances]
        current = broker.configurations["current"] or {}
        self.configuration_id, self.configuration_revision = current.get("Id"), current.get("Revision")
        endpoints = [endpoint for instance in broker.instances for endpoint in instance["endpoints"]]
        for key, prefixes in _ENDPOINT_PREFIXES.items():
            setattr(self, key, [e for e in endpoints if e.startswith(prefixes)])
        return broker_id

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.brokers:
            backend.delete_broker(self.physical_resource_id)


MODELS = (MskCluster, MqBroker)
