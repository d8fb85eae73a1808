"""What each API operation the application calls asks of IAM: its actions, resource ARNs and condition keys.

From the Service Authorization Reference (https://docs.aws.amazon.com/service-authorization/latest/reference/):
the action of each operation, the resource types it authorizes, and the condition keys each resource type
carries. An operation that is not listed here is not modelled: the engine denies it to application principals
and says so, rather than allowing it silently.

Each function takes the parsed request and a `World` (what the engine knows about existing resources) and
returns the authorization checks AWS makes for it, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Check:
    """One (action, resource, condition keys) question; `error` overrides the service's AccessDenied code."""

    action: str
    resource: str
    context: Mapping[str, list[str]] = field(default_factory=dict)
    error: str | None = None


class World(Protocol):
    """The facts about existing resources that authorization depends on."""

    account: str
    region: str

    def instance_tags(self, instance_id: str) -> dict[str, str]: ...
    def default_subnet(self) -> str | None: ...
    def default_security_group(self, subnet_id: str | None) -> str | None: ...
    def instance_profile_role(self, profile: Mapping[str, str]) -> str | None: ...
    def service_linked_role_exists(self, name: str) -> bool: ...
    def parameter_value(self, name: str) -> str | None: ...
    def parameter_key(self, name: str) -> str | None: ...
    def secret(self, secret_id: str) -> tuple[str, str | None] | None: ...
    def customer_key_arn(self, key: str) -> str | None: ...


RESOLVE_SSM = "resolve:ssm:"
Model = Callable[[Mapping[str, Any], World], list[Check]]
MODELS: dict[tuple[str, str], Model] = {}
NO_AUTHORIZATION = {("sts", "GetCallerIdentity")}  # "No permissions are required" (GetCallerIdentity API)


def model(service: str, *operations: str) -> Callable[[Model], Model]:
    def register(function: Model) -> Model:
        for operation in operations:
            MODELS[(service, operation)] = function
        return function

    return register


def _tags(request_tags: Mapping[str, str]) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {f"aws:RequestTag/{k}": [v] for k, v in request_tags.items()}
    if request_tags:
        keys["aws:TagKeys"] = list(request_tags)
    return keys


def _resource_tags(tags: Mapping[str, str]) -> dict[str, list[str]]:
    """An EC2 resource's tags, under both the service's key and the global one."""
    return {f"{scope}:ResourceTag/{k}": [v] for scope in ("ec2", "aws") for k, v in tags.items()}


# --- EC2 (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html) ----------------


def _ec2(world: World, kind: str, ident: str, account: bool = True) -> str:
    return f"arn:aws:ec2:{world.region}:{world.account if account else ''}:{kind}/{ident}"


@model("ec2", "RunInstances")
def run_instances(request: Mapping[str, Any], world: World) -> list[Check]:
    """RunInstances authorizes every resource it touches or creates, plus the calls it makes for you:
    iam:PassRole for the instance profile's role, ec2:CreateTags for tags at launch (ec2:CreateAction), and for
    Spot the spot-instances-request and, once per account, the EC2 Spot service-linked role."""
    interface = (request.get("NetworkInterfaces") or [{}])[0]
    subnet = interface.get("SubnetId") or request.get("SubnetId") or world.default_subnet()
    groups = interface.get("Groups") or request.get("SecurityGroupIds") or []
    groups = groups or [world.default_security_group(subnet) or "*"]
    tag_specs = {spec.get("ResourceType"): {t["Key"]: t["Value"] for t in spec.get("Tags", [])}
                 for spec in request.get("TagSpecifications") or []}  # fmt: skip
    profile = request.get("IamInstanceProfile") or {}
    image = request.get("ImageId", "*")
    parameter = image.removeprefix(RESOLVE_SSM) if image.startswith(RESOLVE_SSM) else None
    if parameter:  # RunInstances reads the parameter as the caller (EC2 user guide, "Use a Systems Manager
        image = world.parameter_value(parameter) or "*"  # parameter instead of an AMI ID")
    instance_keys = {
        **_tags(tag_specs.get("instance", {})),
        "ec2:InstanceType": [request.get("InstanceType", "")],
        "ec2:Region": [world.region],
        **({"ec2:InstanceProfile": [profile["Arn"]]} if profile.get("Arn") else {}),
    }
    checks = [
        Check("ec2:RunInstances", _ec2(world, "instance", "*"), instance_keys),
        Check("ec2:RunInstances", _ec2(world, "volume", "*"), _tags(tag_specs.get("volume", {}))),
        Check("ec2:RunInstances", _ec2(world, "network-interface", "*"),
              {"ec2:Subnet": [_ec2(world, "subnet", subnet or "*")]}),
        Check("ec2:RunInstances", _ec2(world, "subnet", subnet or "*")),
        *[Check("ec2:RunInstances", _ec2(world, "security-group", group)) for group in groups],
        Check("ec2:RunInstances", _ec2(world, "image", image, account=False)),
    ]  # fmt: skip
    if parameter:
        checks.insert(0, Check("ssm:GetParameters", parameter_arn(parameter, world)))
    if (request.get("InstanceMarketOptions") or {}).get("MarketType") == "spot":
        spot_tags = _tags(tag_specs.get("spot-instances-request", {}))
        checks.append(Check("ec2:RunInstances", _ec2(world, "spot-instances-request", "*"), spot_tags))
        if not world.service_linked_role_exists("AWSServiceRoleForEC2Spot"):
            # https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/service-linked-roles-spot-instance-requests.html
            checks.append(Check(
                "iam:CreateServiceLinkedRole",
                f"arn:aws:iam::{world.account}:role/aws-service-role/spot.amazonaws.com/AWSServiceRoleForEC2Spot",
                {"iam:AWSServiceName": ["spot.amazonaws.com"]},
                error="AuthFailure.ServiceLinkedRoleCreationNotPermitted",
            ))  # fmt: skip
    role = world.instance_profile_role(profile) if profile else None
    if role:
        checks.append(Check("iam:PassRole", role, {"iam:PassedToService": ["ec2.amazonaws.com"]}))
    for kind in ("instance", "volume"):
        if kind in tag_specs:
            keys = {**_tags(tag_specs[kind]), "ec2:CreateAction": ["RunInstances"]}
            checks.append(Check("ec2:CreateTags", _ec2(world, kind, "*"), keys))
    return checks


@model("ec2", "TerminateInstances", "StopInstances", "StartInstances", "RebootInstances")
def instance_action(request: Mapping[str, Any], world: World) -> list[Check]:
    action = "ec2:" + request["__operation__"]
    return [
        Check(action, _ec2(world, "instance", instance_id), _resource_tags(world.instance_tags(instance_id)))
        for instance_id in request.get("InstanceIds") or []
    ]


@model("ec2", "AssociateAddress")
def associate_address(request: Mapping[str, Any], world: World) -> list[Check]:
    """The address, then the instance (a policy may scope it by tag)."""
    checks = [Check("ec2:AssociateAddress", _ec2(world, "elastic-ip", request.get("AllocationId", "*")))]
    if request.get("InstanceId"):
        instance_id = request["InstanceId"]
        checks.append(Check("ec2:AssociateAddress", _ec2(world, "instance", instance_id),
                            _resource_tags(world.instance_tags(instance_id))))  # fmt: skip
    return checks


@model("ec2", "DescribeInstances", "DescribeSubnets", "DescribeRouteTables", "DescribeVpcEndpoints",
       "DescribeNatGateways", "DescribeSecurityGroups", "DescribeVpcs", "DescribeImages", "DescribeInstanceTypes",
       "DescribeSpotPriceHistory", "DescribeInstanceAttribute", "DescribeAvailabilityZones",
       "DescribeAddresses")  # fmt: skip
def ec2_describe(request: Mapping[str, Any], world: World) -> list[Check]:
    """Describe* actions support no resource-level permissions: the resource is "*"."""
    return [Check("ec2:" + request["__operation__"], "*")]


# --- S3 (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html) ------------------


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


@model("s3", "GetObject", "HeadObject")
def get_object(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("s3:GetObject", _object(request["Bucket"], request["Key"]))]


@model("s3", "PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload")
def put_object(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("s3:PutObject", _object(request["Bucket"], request["Key"]))]


@model("s3", "AbortMultipartUpload")
def abort_upload(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("s3:AbortMultipartUpload", _object(request["Bucket"], request["Key"]))]


@model("s3", "DeleteObject")
def delete_object(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("s3:DeleteObject", _object(request["Bucket"], request["Key"]))]


@model("s3", "CopyObject")
def copy_object(request: Mapping[str, Any], world: World) -> list[Check]:
    source_bucket, source_key = copy_source(request["CopySource"])
    return [
        Check("s3:GetObject", _object(source_bucket, source_key)),
        Check("s3:PutObject", _object(request["Bucket"], request["Key"])),
    ]


@model("s3", "ListObjectsV2", "ListObjects", "HeadBucket")
def list_bucket(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("s3:ListBucket", f"arn:aws:s3:::{request['Bucket']}", {"s3:prefix": [request.get("Prefix") or ""]})]


def copy_source(source: Any) -> tuple[str, str]:
    """(bucket, key) of a CopySource: "bucket/key[?versionId=...]" or {"Bucket", "Key"}."""
    if isinstance(source, Mapping):
        return source["Bucket"], source["Key"]
    from urllib.parse import unquote

    bucket, _, key = unquote(str(source).split("?", 1)[0]).lstrip("/").partition("/")
    return bucket, key


# --- DynamoDB, Step Functions, Lambda, EventBridge, SSM --------------------------------------------------------


@model("dynamodb", "PutItem", "UpdateItem", "GetItem", "DeleteItem", "Query", "Scan", "DescribeTable")
def dynamodb_table(request: Mapping[str, Any], world: World) -> list[Check]:
    table = f"arn:aws:dynamodb:{world.region}:{world.account}:table/{request['TableName']}"
    if request.get("IndexName"):
        table += f"/index/{request['IndexName']}"
    return [Check("dynamodb:" + request["__operation__"], table)]


# each item of a transaction is authorized as its own action on its table
# (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html)
TRANSACTION_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                       "ConditionCheck": "ConditionCheckItem"}  # fmt: skip


@model("dynamodb", "TransactWriteItems")
def dynamodb_transaction(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("dynamodb:" + TRANSACTION_ACTIONS[kind],
                  f"arn:aws:dynamodb:{world.region}:{world.account}:table/{body['TableName']}")
            for item in request.get("TransactItems") or [] for kind, body in item.items()]  # fmt: skip


@model("service-quotas", "GetServiceQuota")
def service_quota(request: Mapping[str, Any], world: World) -> list[Check]:
    """The quota's ARN (https://docs.aws.amazon.com/service-authorization/latest/reference/list_servicequotas.html)."""
    arn = f"arn:aws:servicequotas:{world.region}:{world.account}:{request['ServiceCode']}/{request['QuotaCode']}"
    return [Check("servicequotas:GetServiceQuota", arn)]


@model("stepfunctions", "StartExecution", "DescribeStateMachine", "ListExecutions")
def state_machine_action(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("states:" + request["__operation__"], request["stateMachineArn"])]


@model("stepfunctions", "DescribeExecution", "StopExecution", "GetExecutionHistory")
def execution_action(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("states:" + request["__operation__"], request["executionArn"])]


@model("stepfunctions", "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat")
def task_token_action(request: Mapping[str, Any], world: World) -> list[Check]:
    """No resource-level permissions for the task-token actions."""
    return [Check("states:" + request["__operation__"], "*")]


@model("lambda", "Invoke")
def invoke(request: Mapping[str, Any], world: World) -> list[Check]:
    name = request["FunctionName"]
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{world.region}:{world.account}:function:{name}"
    if request.get("Qualifier"):
        arn += f":{request['Qualifier']}"
    return [Check("lambda:InvokeFunction", arn)]


@model("events", "PutEvents")
def put_events(request: Mapping[str, Any], world: World) -> list[Check]:
    buses = {entry.get("EventBusName") or "default" for entry in request.get("Entries") or []}
    arns = [bus if bus.startswith("arn:") else f"arn:aws:events:{world.region}:{world.account}:event-bus/{bus}"
            for bus in sorted(buses)]  # fmt: skip
    return [Check("events:PutEvents", arn) for arn in arns]


@model("events", "PutRule", "PutTargets", "DescribeRule", "RemoveTargets", "DeleteRule")
def rule_action(request: Mapping[str, Any], world: World) -> list[Check]:
    name = request.get("Name") or request.get("Rule")
    return [Check("events:" + request["__operation__"], f"arn:aws:events:{world.region}:{world.account}:rule/{name}")]


@model("sqs", "SendMessage")
def send_message(request: Mapping[str, Any], world: World) -> list[Check]:
    """A queue's URL ends in its account and name (a function's on-failure destination sends as its role)."""
    account, name = request["QueueUrl"].rstrip("/").split("/")[-2:]
    return [Check("sqs:SendMessage", f"arn:aws:sqs:{world.region}:{account}:{name}")]


@model("logs", "CreateLogGroup", "CreateLogStream", "PutLogEvents")
def log_action(request: Mapping[str, Any], world: World) -> list[Check]:
    """What Lambda writes a function's output with, as the function's execution role. A log group's ARN in a
    policy ends with `:*`; a log stream's is the group's with `log-stream:NAME`
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/iam-access-control-overview-cwl.html)."""
    group = f"arn:aws:logs:{world.region}:{world.account}:log-group:{request['logGroupName']}"
    if request["__operation__"] == "PutLogEvents":
        return [Check("logs:PutLogEvents", f"{group}:log-stream:{request['logStreamName']}")]
    return [Check("logs:" + request["__operation__"], f"{group}:*")]


@model("ssm", "GetParameters", "GetParameter")
def get_parameters(request: Mapping[str, Any], world: World) -> list[Check]:
    """Each parameter; with WithDecryption, a SecureString under a customer managed key also needs kms:Decrypt on
    that key, through SSM (the AWS managed aws/ssm key needs none:
    https://docs.aws.amazon.com/systems-manager/latest/userguide/secure-string-parameter-kms-encryption.html)."""
    names = request.get("Names") or [request.get("Name", "")]
    checks = [Check("ssm:" + request["__operation__"], parameter_arn(name, world)) for name in names]
    for name in names if request.get("WithDecryption") else []:
        key = world.parameter_key(_parameter_name(name))
        key_arn = world.customer_key_arn(key) if key else None
        if key_arn:
            checks.append(Check("kms:Decrypt", key_arn, {"kms:ViaService": [f"ssm.{world.region}.amazonaws.com"]}))
    return checks


@model("secretsmanager", "GetSecretValue")
def get_secret_value(request: Mapping[str, Any], world: World) -> list[Check]:
    """The secret (its full ARN, as IAM matches it, whichever id the caller gave); under a customer managed key,
    kms:Decrypt on that key through Secrets Manager too (the AWS managed aws/secretsmanager key needs none:
    https://docs.aws.amazon.com/secretsmanager/latest/userguide/security-encryption.html#security-encryption-authz)."""
    secret_id = request.get("SecretId", "")
    found = world.secret(secret_id)
    if found is None:  # Secrets Manager answers ResourceNotFoundException after authorization
        arn = secret_id if secret_id.startswith("arn:") else (
            f"arn:aws:secretsmanager:{world.region}:{world.account}:secret:{secret_id}")  # fmt: skip
        return [Check("secretsmanager:GetSecretValue", arn)]
    arn, key = found
    checks = [Check("secretsmanager:GetSecretValue", arn)]
    key_arn = world.customer_key_arn(key) if key else None
    if key_arn:
        checks.append(Check("kms:Decrypt", key_arn, {"kms:ViaService": [f"secretsmanager.{world.region}.amazonaws.com"],
                                                     "kms:EncryptionContext:SecretARN": [arn]}))  # fmt: skip
    return checks


@model("ssm", "SendCommand")
def send_command(request: Mapping[str, Any], world: World) -> list[Check]:
    """The document and each instance (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html):
    a policy may scope the instances by tag (ssm:resourceTag/...)."""
    document = f"arn:aws:ssm:{world.region}::document/{request.get('DocumentName', '')}"
    return [Check("ssm:SendCommand", document),
            *(_instance_check("ssm:SendCommand", i, world) for i in request.get("InstanceIds") or [])]  # fmt: skip


@model("ssm", "StartSession")
def start_session(request: Mapping[str, Any], world: World) -> list[Check]:
    """The instance (a policy may scope it by tag) and the session document: AWS's own (AWS-...) are owned by no
    account; the default, SSM-SessionManagerRunShell, is the account's
    (https://docs.aws.amazon.com/systems-manager/latest/userguide/getting-started-restrict-access-quickstart.html)."""
    name = request.get("DocumentName") or "SSM-SessionManagerRunShell"
    owner = "" if name.startswith("AWS-") else world.account
    return [_instance_check("ssm:StartSession", request.get("Target", ""), world),
            Check("ssm:StartSession", f"arn:aws:ssm:{world.region}:{owner}:document/{name}")]  # fmt: skip


@model("ssm", "TerminateSession")
def terminate_session(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("ssm:TerminateSession", f"arn:aws:ssm:{world.region}:{world.account}:session/"
                  f"{request.get('SessionId', '')}")]  # fmt: skip


def _instance_check(action: str, instance_id: str, world: World) -> Check:
    found = world.instance_tags(instance_id)
    tags = {**{f"ssm:resourceTag/{k}": [v] for k, v in found.items()},
            **{f"aws:ResourceTag/{k}": [v] for k, v in found.items()}}  # fmt: skip
    return Check(action, f"arn:aws:ec2:{world.region}:{world.account}:instance/{instance_id}", tags)


@model("ssm", "GetCommandInvocation", "ListCommandInvocations")
def command_invocations(request: Mapping[str, Any], world: World) -> list[Check]:
    """No resource-level permissions: "*"."""
    return [Check("ssm:" + request["__operation__"], "*")]


def parameter_arn(name: str, world: World) -> str:
    """A parameter's ARN (a name or its ARN given); public parameters (/aws/service/...) are owned by no account."""
    if name.startswith("arn:"):
        return name
    account = "" if name.startswith("/aws/service/") else world.account
    return f"arn:aws:ssm:{world.region}:{account}:parameter/{name.lstrip('/')}"


def _parameter_name(name: str) -> str:
    """A parameter's name from its ARN, as SSM reads it (parameter/a/b is /a/b; parameter/a is a)."""
    if not name.startswith("arn:"):
        return name
    path = name.split(":parameter/", 1)[-1]
    return f"/{path}" if "/" in path else path


@model("pricing", "GetProducts")
def price_list(request: Mapping[str, Any], world: World) -> list[Check]:
    """The Price List API supports no resource-level permissions (list_awspricelist.html)."""
    return [Check("pricing:GetProducts", "*")]


@model("sts", "AssumeRole")
def assume_role(request: Mapping[str, Any], world: World) -> list[Check]:
    return [Check("sts:AssumeRole", request["RoleArn"])]
