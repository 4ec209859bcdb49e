"""A function's identity-based policies from its SAM template, as IAM would hold them after deploy.

Part of the netkit moto harness (POST /_netkit/iam/template-policies).

The template is expanded with the SAM translator (netkit_sam.py, as CloudFormation does at
CreateChangeSet): the function's execution role then carries the template's `Policies`, the
policy SAM adds for the EventInvokeConfig destination / dead-letter queue, and the managed
policies SAM attaches (AWSLambdaBasicExecutionRole, AWSXrayWriteOnlyAccess for `Tracing: Active`).
Intrinsics are resolved for the emulator's partition, region and account with the caller's
parameters; a resource's physical id (what `Ref` returns) is the caller's `physicalIds[logicalId]`,
or the logical id itself.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

import netkit_sam

# The documented statements of the managed policies SAM attaches (AWS Managed Policy Reference).
MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicExecutionRole": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ],
    },
    "AWSXrayWriteOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": ["*"],
            }
        ],
    },
}


class TemplateError(Exception):
    pass


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Any:
    def construct(loader: _CfnLoader, node: yaml.Node) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name if name != "Ref" else "Ref": value}

    return construct


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _fn in ("Sub", "GetAtt", "Join", "Split", "Select", "If", "Equals", "Not", "And", "Or", "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Length", "ToJsonString"):
    _CfnLoader.add_constructor(f"!{_fn}", _tag(f"Fn::{_fn}"))


def _arn_for(resource_type: str, physical_id: str, region: str, account: str) -> str:
    if physical_id.startswith("arn:"):
        return physical_id
    if resource_type == "AWS::SQS::Queue" and physical_id.startswith("https://"):
        physical_id = physical_id.rsplit("/", 1)[-1]  # a queue's Ref is its URL
    arns = {
        "AWS::SQS::Queue": f"arn:aws:sqs:{region}:{account}:{physical_id}",
        "AWS::IAM::Role": f"arn:aws:iam::{account}:role/{physical_id}",
        "AWS::ECS::Cluster": f"arn:aws:ecs:{region}:{account}:cluster/{physical_id}",
        "AWS::Logs::LogGroup": f"arn:aws:logs:{region}:{account}:log-group:{physical_id}:*",
        "AWS::Lambda::Function": f"arn:aws:lambda:{region}:{account}:function:{physical_id}",
        "AWS::Events::Rule": f"arn:aws:events:{region}:{account}:rule/{physical_id}",
        "AWS::SNS::Topic": f"arn:aws:sns:{region}:{account}:{physical_id}",
    }
    if resource_type not in arns:
        raise TemplateError(f"no ARN for a {resource_type} (give its ARN in physicalIds)")
    return arns[resource_type]


class _Resolver:
    def __init__(self, template: dict[str, Any], parameters: dict[str, Any], physical: dict[str, str], region: str, account: str) -> None:
        self.resources = template.get("Resources") or {}
        self.conditions = template.get("Conditions") or {}
        self.region = region
        self.account = account
        self.physical = physical
        self.values: dict[str, Any] = {
            "AWS::Partition": "aws",
            "AWS::Region": region,
            "AWS::AccountId": account,
            "AWS::StackName": physical.get("AWS::StackName", "netkit-stack"),
            "AWS::URLSuffix": "amazonaws.com",
        }
        for name, spec in (template.get("Parameters") or {}).items():
            value = parameters.get(name, spec.get("Default"))
            if value is None:
                raise TemplateError(f"parameter {name} has no value and no default")
            if str(spec.get("Type", "")).startswith("List<") or spec.get("Type") == "CommaDelimitedList":
                value = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
            self.values[name] = value

    def ref(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.resources:
            resource = self.resources[name]
            physical = self.physical.get(name, name)
            if resource.get("Type") == "AWS::SQS::Queue" and not physical.startswith("https://"):
                return f"https://sqs.{self.region}.amazonaws.com/{self.account}/{physical}"
            return physical
        raise TemplateError(f"Ref to unknown {name}")

    def get_att(self, name: str, attribute: str) -> Any:
        resource = self.resources.get(name)
        if resource is None:
            raise TemplateError(f"GetAtt of unknown resource {name}")
        physical = self.physical.get(f"{name}.{attribute}") or self.physical.get(name, name)
        if attribute == "Arn":
            return _arn_for(resource["Type"], physical, self.region, self.account)
        if attribute in ("QueueName", "Name"):
            return physical
        raise TemplateError(f"GetAtt {name}.{attribute} is not modelled (give it in physicalIds)")

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.resolve(v) for v in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (fn, arg), = node.items()
            handler = getattr(self, "_" + fn.replace("::", "_"), None)
            if handler is not None:
                return handler(arg)
        out = {}
        for key, value in node.items():
            resolved = self.resolve(value)
            if resolved is not _NO_VALUE:
                out[key] = resolved
        return out

    def _Ref(self, arg: str) -> Any:  # noqa: N802
        return _NO_VALUE if arg == "AWS::NoValue" else self.ref(arg)

    def _Condition(self, arg: str) -> bool:  # noqa: N802
        return self.condition(arg)

    def _Fn_GetAtt(self, arg: Any) -> Any:  # noqa: N802
        name, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
        return self.get_att(name, attribute)

    def _Fn_Sub(self, arg: Any) -> str:  # noqa: N802
        text, local = (arg, {}) if isinstance(arg, str) else (arg[0], {k: self.resolve(v) for k, v in arg[1].items()})

        def replace(match: Any) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in local:
                return str(local[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self.get_att(*name.split(".", 1)))
            value = self.ref(name)
            return ",".join(value) if isinstance(value, list) else str(value)

        import re

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _Fn_Join(self, arg: list[Any]) -> str:  # noqa: N802
        delimiter, values = arg
        return str(delimiter).join(str(v) for v in self.resolve(values))

    def _Fn_Split(self, arg: list[Any]) -> list[str]:  # noqa: N802
        delimiter, text = arg
        return str(self.resolve(text)).split(delimiter)

    def _Fn_Select(self, arg: list[Any]) -> Any:  # noqa: N802
        index, values = arg
        return self.resolve(values)[int(self.resolve(index))]

    def _Fn_If(self, arg: list[Any]) -> Any:  # noqa: N802
        name, when_true, when_false = arg
        return self.resolve(when_true if self.condition(name) else when_false)

    def _Fn_Equals(self, arg: list[Any]) -> bool:  # noqa: N802
        left, right = (self.resolve(v) for v in arg)
        return str(left) == str(right)

    def _Fn_Not(self, arg: list[Any]) -> bool:  # noqa: N802
        return not self.resolve(arg[0])

    def _Fn_And(self, arg: list[Any]) -> bool:  # noqa: N802
        return all(self.resolve(v) for v in arg)

    def _Fn_Or(self, arg: list[Any]) -> bool:  # noqa: N802
        return any(self.resolve(v) for v in arg)


_NO_VALUE = object()


def function_policies(payload: dict[str, Any], region: str, account: str) -> dict[str, Any]:
    """{ roleArn, policies } of payload.logicalId in payload.template (YAML text)."""
    text = payload.get("template")
    logical_id = payload.get("logicalId")
    if not isinstance(text, str) or not isinstance(logical_id, str):
        raise TemplateError("template (YAML text) and logicalId are required")
    parameters = {k: v for k, v in (payload.get("parameters") or {}).items()}
    physical = dict(payload.get("physicalIds") or {})
    template = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
    for resource in (template.get("Resources") or {}).values():
        if resource.get("Type") == "AWS::Serverless::Function":
            resource.setdefault("Properties", {})["CodeUri"] = "s3://netkit-emulator/code.zip"
    if template.get("Resources", {}).get(logical_id, {}).get("Type") != "AWS::Serverless::Function":
        raise TemplateError(f"{logical_id} is not an AWS::Serverless::Function of the template")
    sam_parameters = {k: (",".join(v) if isinstance(v, list) else str(v)) for k, v in parameters.items()}
    try:
        translated = netkit_sam._sam_translate(copy.deepcopy(template), sam_parameters, region, account)
    except netkit_sam.SamTransformError as exc:
        raise TemplateError(str(exc)) from exc
    resolver = _Resolver(translated, parameters, physical, region, account)
    function = translated["Resources"][logical_id]["Properties"]
    role_ref = function.get("Role")
    if not (isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref):
        raise TemplateError(f"{logical_id} has no template-defined role")
    role_id = role_ref["Fn::GetAtt"][0] if isinstance(role_ref["Fn::GetAtt"], list) else role_ref["Fn::GetAtt"].split(".")[0]
    role = resolver.resolve(translated["Resources"][role_id]["Properties"])
    policies = [p["PolicyDocument"] for p in role.get("Policies") or []]
    for arn in role.get("ManagedPolicyArns") or []:
        name = arn.rsplit("/", 1)[-1]
        if name not in MANAGED_POLICIES:
            raise TemplateError(f"managed policy {arn} is not modelled (netkit_iam_template.MANAGED_POLICIES)")
        policies.append(copy.deepcopy(MANAGED_POLICIES[name]))
    role_name = physical.get(role_id, role_id)
    return {"roleArn": f"arn:aws:iam::{account}:role/{role_name}", "policies": policies}
