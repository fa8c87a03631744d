"""CloudFormation models for Cognito user pools, their clients and domains, identity pools and API Gateway
authorizers, which moto's cognito-idp, cognito-identity and apigateway backends have but its CloudFormation lacks."""

from __future__ import annotations

import json
from typing import Any

from orchestrator.sandbox.glue import _BackendModel, _tags


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


class CognitoUserPool(_BackendModel):
    """AWS::Cognito::UserPool: cognito-idp CreateUserPool (UserPoolName as PoolName, every other property as
    the API takes it); Ref and GetAtt UserPoolId are the pool id, GetAtt Arn, ProviderName and ProviderURL
    as Cognito derives them from the id."""

    resource_type = "AWS::Cognito::UserPool"
    service = "cognito-idp"
    attributes = {"UserPoolId": "physical_resource_id", "Arn": "arn", "ProviderName": "provider_name",
                  "ProviderURL": "provider_url"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        config = {k: v for k, v in props.items() if k not in ("UserPoolName", "EnabledMfas")}
        pool = backend.create_user_pool(props.get("UserPoolName") or name, config)
        self.arn = pool.arn
        self.provider_name = f"cognito-idp.{self.region}.amazonaws.com/{pool.id}"
        self.provider_url = f"https://{self.provider_name}"
        return pool.id

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.user_pools:
            backend.delete_user_pool(self.physical_resource_id)


class CognitoUserPoolClient(_BackendModel):
    """AWS::Cognito::UserPoolClient: cognito-idp CreateUserPoolClient in its pool (which must exist); Ref and
    GetAtt ClientId are the client id, GetAtt ClientSecret (only with GenerateSecret) and Name."""

    resource_type = "AWS::Cognito::UserPoolClient"
    service = "cognito-idp"
    attributes = {"ClientId": "physical_resource_id", "ClientSecret": "secret", "Name": "name"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.pool_id = props["UserPoolId"]
        generate = _flag(props.get("GenerateSecret"))
        config = {k: v for k, v in props.items() if k not in ("UserPoolId", "GenerateSecret")}
        config.setdefault("ClientName", name)
        client = backend.create_user_pool_client(self.pool_id, generate, config)
        self.secret = client.secret if generate else None
        self.name = config["ClientName"]
        return client.id

    def _delete(self, backend: Any) -> None:
        pool = backend.user_pools.get(self.pool_id)
        if pool is not None and self.physical_resource_id in pool.clients:
            backend.delete_user_pool_client(self.pool_id, self.physical_resource_id)


class CognitoUserPoolDomain(_BackendModel):
    """AWS::Cognito::UserPoolDomain: cognito-idp CreateUserPoolDomain (prefix or custom domain); Ref is the
    domain, GetAtt CloudFrontDistribution the distribution's domain name DescribeUserPoolDomain answers."""

    resource_type = "AWS::Cognito::UserPoolDomain"
    service = "cognito-idp"
    attributes = {"CloudFrontDistribution": "distribution"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        domain = backend.create_user_pool_domain(props["UserPoolId"], props["Domain"],
                                                 props.get("CustomDomainConfig") or None)
        self.distribution = domain.to_json()["CloudFrontDistribution"]
        return domain.domain

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.user_pool_domains:
            backend.delete_user_pool_domain(self.physical_resource_id)


class CognitoUserPoolGroup(_BackendModel):
    """AWS::Cognito::UserPoolGroup: cognito-idp CreateGroup in its pool (GroupExistsException for a second of
    the same name); Ref is the group name."""

    resource_type = "AWS::Cognito::UserPoolGroup"
    service = "cognito-idp"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.pool_id = props["UserPoolId"]
        precedence = props.get("Precedence")
        group = backend.create_group(self.pool_id, props.get("GroupName") or name, props.get("Description"),
                                     props.get("RoleArn"), int(precedence) if precedence is not None else None)
        return group.group_name

    def _delete(self, backend: Any) -> None:
        pool = backend.user_pools.get(self.pool_id)
        if pool is not None and self.physical_resource_id in pool.groups:
            backend.delete_group(self.pool_id, self.physical_resource_id)


class CognitoUserPoolResourceServer(_BackendModel):
    """AWS::Cognito::UserPoolResourceServer: cognito-idp CreateResourceServer (its OAuth scopes); Ref is the
    identifier."""

    resource_type = "AWS::Cognito::UserPoolResourceServer"
    service = "cognito-idp"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.pool_id = props["UserPoolId"]
        server = backend.create_resource_server(self.pool_id, props["Identifier"], props["Name"],
                                                [dict(scope) for scope in props.get("Scopes") or []])
        return server.identifier

    def _delete(self, backend: Any) -> None:
        # moto has no DeleteResourceServer; the pool's table is what DescribeResourceServer reads.
        pool = backend.user_pools.get(self.pool_id)
        if pool is not None:
            pool.resource_servers.pop(self.physical_resource_id, None)


class CognitoUserPoolIdentityProvider(_BackendModel):
    """AWS::Cognito::UserPoolIdentityProvider: cognito-idp CreateIdentityProvider (SAML, OIDC or social) in its
    pool; Ref is the provider name."""

    resource_type = "AWS::Cognito::UserPoolIdentityProvider"
    service = "cognito-idp"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.pool_id = props["UserPoolId"]
        config = {k: props[k] for k in ("ProviderType", "ProviderDetails", "AttributeMapping", "IdpIdentifiers")
                  if props.get(k) is not None}
        return backend.create_identity_provider(self.pool_id, props["ProviderName"], config).name

    def _delete(self, backend: Any) -> None:
        pool = backend.user_pools.get(self.pool_id)
        if pool is not None and self.physical_resource_id in pool.identity_providers:
            backend.delete_identity_provider(self.pool_id, self.physical_resource_id)


class CognitoIdentityPool(_BackendModel):
    """AWS::Cognito::IdentityPool: cognito-identity CreateIdentityPool; Ref and GetAtt Id are the pool id,
    GetAtt Name its name."""

    resource_type = "AWS::Cognito::IdentityPool"
    service = "cognito-identity"
    attributes = {"Id": "physical_resource_id", "Name": "name"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.name = props.get("IdentityPoolName") or name.replace("-", "_")
        providers = props.get("SupportedLoginProviders")
        created = json.loads(backend.create_identity_pool(
            identity_pool_name=self.name,
            allow_unauthenticated_identities=_flag(props.get("AllowUnauthenticatedIdentities")),
            supported_login_providers=json.loads(providers) if isinstance(providers, str) else providers or {},
            developer_provider_name=props.get("DeveloperProviderName"),
            open_id_connect_provider_arns=list(props.get("OpenIdConnectProviderARNs") or []),
            cognito_identity_providers=[dict(p) for p in props.get("CognitoIdentityProviders") or []],
            saml_provider_arns=list(props.get("SamlProviderARNs") or []),
            tags=_tags({"Tags": props.get("IdentityPoolTags")})))
        return created["IdentityPoolId"]

    def _delete(self, backend: Any) -> None:
        if self.physical_resource_id in backend.identity_pools:
            backend.delete_identity_pool(self.physical_resource_id)


class ApiGatewayAuthorizer(_BackendModel):
    """AWS::ApiGateway::Authorizer: API Gateway CreateAuthorizer on its REST API (which must exist); Ref and
    GetAtt AuthorizerId are the authorizer id."""

    resource_type = "AWS::ApiGateway::Authorizer"
    service = "apigateway"
    attributes = {"AuthorizerId": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.api_id = props["RestApiId"]
        ttl = props.get("AuthorizerResultTtlInSeconds")
        authorizer = backend.create_authorizer(
            self.api_id, props.get("Name") or name, props["Type"], provider_arns=props.get("ProviderARNs"),
            auth_type=props.get("AuthType"), authorizer_uri=props.get("AuthorizerUri"),
            authorizer_credentials=props.get("AuthorizerCredentials"), identity_source=props.get("IdentitySource"),
            authorizer_result_ttl=int(ttl) if ttl is not None else 300)
        # moto passes this one under a misspelt keyword, so it is set on the created authorizer.
        authorizer.identity_validation_expression = props.get("IdentityValidationExpression")
        return authorizer.id

    def _delete(self, backend: Any) -> None:
        api = backend.apis.get(self.api_id)
        if api is not None and self.physical_resource_id in api.authorizers:
            backend.delete_authorizer(self.api_id, self.physical_resource_id)


MODELS = (CognitoUserPool, CognitoUserPoolClient, CognitoUserPoolDomain, CognitoUserPoolGroup, CognitoUserPoolResourceServer,
          CognitoUserPoolIdentityProvider, CognitoIdentityPool, ApiGatewayAuthorizer)
