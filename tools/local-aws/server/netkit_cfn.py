"""CloudFormation behaviours moto 5.2.1 lacks, kept apart from netkit_moto.py.

- Reads of a stack holding a resource type moto cannot create. DescribeStackResource "Returns a
  description of the specified resource in the specified stack" and ListStackResources "Returns
  descriptions of all resources of the specified stack" (AWS CloudFormation API Reference). moto
  keeps None in the stack's resource map for such a type (AWS::Lambda::EventInvokeConfig, in every
  netkit template), and DescribeStackResource / ListStackResources / DescribeStackResources crashed
  on it. `install()` makes the stack's resources the ones moto created; the others stay missing
  (the emulator's known gap) instead of failing every read of the stack.

- DELETE_FAILED. When CloudFormation cannot delete a resource, the stack ends in DELETE_FAILED: the
  resources it could delete are gone, the others stay in the stack (status DELETE_FAILED, with a
  reason), the stack keeps its id and outputs, and DeleteStack may be called again ("DeleteStack",
  AWS CloudFormation API Reference; "Delete a stack", User Guide: "If the stack deletion fails, the
  stack will be in the DELETE_FAILED state"). moto takes the stack off its list before deleting and
  answers an error when a resource delete raises, so the stack vanishes instead. The control route
  `POST /_netkit/cloudformation/delete-failure {logicalId, times?, stack?, reason?}` makes the next
  `times` delete attempts of that resource fail (the resource, e.g. a VPC endpoint, stays).
- RetainResources. "For stacks in the DELETE_FAILED state, a list of resource logical IDs that are
  associated with the resources you want to retain. During deletion, CloudFormation deletes the
  stack but doesn't delete the retained resources." (DeleteStack API reference, RetainResources.)
  moto ignores the parameter. For a stack in any other state CloudFormation refuses the request
  with a ValidationError; so does the harness, and for a logical id the stack does not hold.

Everything here runs under netkit_moto's global lock.
"""

from __future__ import annotations

from typing import Any, Callable

Response = tuple[int, list[tuple[str, str]], bytes]

# Pending injected delete failures: {"logicalId", "left", "stack" (name or None), "reason"}.
DELETE_FAILURES: list[dict[str, Any]] = []
DEFAULT_REASON = "Resource handler returned message: \"injected delete failure (netkit harness)\""


def reset() -> None:
    DELETE_FAILURES.clear()


def install() -> None:
    from moto.cloudformation.models import Stack

    def stack_resources(self: Any) -> list[Any]:
        return [r for r in self.resource_map.values() if r is not None]

    Stack.stack_resources = property(stack_resources)  # type: ignore[method-assign,assignment]


def add_delete_failure(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    logical_id = payload.get("logicalId")
    if not isinstance(logical_id, str) or logical_id == "":
        return 400, {"error": "logicalId is required"}
    try:
        times = int(payload.get("times") or 1)
    except (TypeError, ValueError):
        return 400, {"error": "times must be an integer >= 1"}
    if times < 1:
        return 400, {"error": "times must be an integer >= 1"}
    stack = payload.get("stack")
    if stack is not None and (not isinstance(stack, str) or stack == ""):
        return 400, {"error": "stack must be a stack name"}
    DELETE_FAILURES.append(
        {"logicalId": logical_id, "left": times, "stack": stack, "reason": str(payload.get("reason") or DEFAULT_REASON)}
    )
    return 200, {"ok": True}


def _backend(account_id: str, region: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account_id][region]


def _live_stack(backend: Any, name_or_id: str) -> Any:
    stack = backend.stacks.get(name_or_id)
    if stack is not None:
        return stack
    for candidate in backend.stacks.values():
        if candidate.name == name_or_id and candidate.status != "DELETE_COMPLETE":
            return candidate
    return None


def _resource_event(stack: Any, logical_id: str, resource: Any, status: str, reason: str | None) -> None:
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=logical_id,
            physical_resource_id=getattr(resource, "physical_resource_id", "") or "",
            resource_type=getattr(resource, "cf_resource_type", "") or "",
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=None,
        )
    )


def _failing_ids(stack: Any) -> dict[str, str]:
    """Consumes one attempt of every armed failure that hits a resource of this stack."""
    hits: dict[str, str] = {}
    parsed = stack.resource_map._parsed_resources
    for failure in DELETE_FAILURES:
        if failure["left"] <= 0 or failure["logicalId"] not in parsed:
            continue
        if failure["stack"] not in (None, stack.name):
            continue
        failure["left"] -= 1
        hits[failure["logicalId"]] = failure["reason"]
    return hits


def _references(node: Any, ids: set[str], found: set[str]) -> None:
    """Logical ids a resource's JSON points at (Ref, Fn::GetAtt, DependsOn)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str) and value in ids:
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) and value else str(value).split(".")[0]
                if target in ids:
                    found.add(target)
            elif key == "DependsOn":
                for dep in value if isinstance(value, list) else [value]:
                    if dep in ids:
                        found.add(dep)
            else:
                _references(value, ids, found)
    elif isinstance(node, list):
        for item in node:
            _references(item, ids, found)


def _partial_delete(stack: Any, failing: dict[str, str]) -> None:
    """Deletes in dependency order what can be deleted: a resource whose delete fails stays, and so
    does everything it depends on (CloudFormation never deletes a dependency before its dependents).
    The stack ends DELETE_FAILED holding what is left."""
    resource_map = stack.resource_map
    parsed = resource_map._parsed_resources
    # A copy: the map is the template's own Resources (GetTemplate must not change).
    json_map = dict(resource_map._resource_json_map)
    resource_map._resource_json_map = json_map
    stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
    ids = set(json_map)
    deps = {}
    for logical_id, body in json_map.items():
        found: set[str] = set()
        _references(body, ids, found)
        found.discard(logical_id)
        deps[logical_id] = found
    reasons = dict(failing)
    remaining = {k for k in json_map if k in parsed}
    progress = True
    while progress:
        progress = False
        for logical_id in sorted(remaining):
            if logical_id in failing or any(logical_id in deps[other] for other in remaining if other != logical_id):
                continue
            resource = parsed[logical_id]
            try:
                if not isinstance(resource, str) and resource is not None:
                    resource_map._delete_resource(resource, json_map[logical_id])
            except Exception as exc:  # noqa: BLE001 - it stays in the stack, as in CloudFormation
                reasons[logical_id] = f"Resource handler returned message: \"{exc}\""
                failing = {**failing, logical_id: reasons[logical_id]}
                continue
            _resource_event(stack, logical_id, resource, "DELETE_COMPLETE", None)
            parsed.pop(logical_id, None)
            json_map.pop(logical_id, None)
            remaining.discard(logical_id)
            progress = True
    for logical_id in sorted(remaining):
        reason = reasons.get(logical_id)
        if reason is not None:
            _resource_event(stack, logical_id, parsed[logical_id], "DELETE_FAILED", reason)
    failed = ", ".join(sorted(k for k in reasons if k in remaining))
    stack._add_stack_event(
        "DELETE_FAILED", resource_status_reason=f"The following resource(s) failed to delete: [{failed}]. "
    )
    stack.status = "DELETE_FAILED"


def delete_stack(
    account_id: str,
    region: str,
    params: dict[str, str],
    error: Callable[[str, str], Response],
    ok: Callable[[], Response],
) -> Response | None:
    """DeleteStack with DELETE_FAILED and RetainResources; None lets moto answer."""
    name = params.get("StackName", "")
    retain = [v for k, v in sorted(params.items(), key=lambda kv: kv[0]) if k.startswith("RetainResources.member.")]
    backend = _backend(account_id, region)
    stack = _live_stack(backend, name)
    if stack is None:
        return None
    if retain:
        if stack.status != "DELETE_FAILED":
            return error(
                "ValidationError",
                f"Invalid operation on stack [{stack.stack_id}]: RetainResources can be specified only when the stack is in the DELETE_FAILED state",
            )
        parsed = stack.resource_map._parsed_resources
        unknown = [r for r in retain if r not in parsed]
        if unknown:
            return error("ValidationError", f"The specified resources to retain must be in a valid state: {', '.join(unknown)}")
        json_map = dict(stack.resource_map._resource_json_map)
        stack.resource_map._resource_json_map = json_map
        for logical_id in retain:
            _resource_event(stack, logical_id, parsed[logical_id], "DELETE_SKIPPED", None)
            parsed.pop(logical_id)
            json_map.pop(logical_id, None)
        return None
    failing = _failing_ids(stack)
    if not failing:
        return None
    _partial_delete(stack, failing)
    return ok()
