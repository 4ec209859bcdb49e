"""Auto Scaling lifecycle actions: tokens, timeouts, completion and heartbeats.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import time
from typing import Any, Callable

from netkit_protocol import Response, error_response, query_ok
from netkit_state import COMPLETIONS, HEARTBEATS, LIFECYCLE_ACTIONS, now_iso

def expire_lifecycle_actions() -> None:
    """Heartbeat timeout: an action with no heartbeat (or completion) for its hook's HeartbeatTimeout
    ends with the hook's DefaultResult, and later calls find no active action. "If the lifecycle hook
    times out, Amazon EC2 Auto Scaling performs the action that you specified in the DefaultResult
    property"; RecordLifecycleActionHeartbeat "extends the timeout by the length of time defined using
    the PutLifecycleHook API call" (Auto Scaling API reference, LifecycleHook and
    RecordLifecycleActionHeartbeat)."""
    now = time.monotonic()
    for action in LIFECYCLE_ACTIONS.values():
        timeout = action.get("heartbeatTimeoutMs")
        if not action["active"] or timeout is None:
            continue
        if (now - action["lastBeat"]) * 1000.0 >= timeout:
            _end_action(action, action["defaultResult"], timed_out=True)


def _end_action(action: dict[str, Any], result: str, timed_out: bool = False) -> None:
    """The action is over (completed, or timed out with its DefaultResult): record how it ended."""
    action["active"] = False
    record = {
        "groupName": action["groupName"],
        "hookName": action["hookName"],
        "instanceId": action["instanceId"],
        "token": action["token"],
        "result": result,
    }
    if timed_out:
        record["timedOut"] = True
    record["at"] = now_iso()
    COMPLETIONS.append(record)


def _find_action(params: dict[str, str]) -> tuple[dict[str, Any] | None, str]:
    expire_lifecycle_actions()
    token = params.get("LifecycleActionToken") or ""
    instance_id = params.get("InstanceId") or ""
    group = params.get("AutoScalingGroupName") or ""
    hook = params.get("LifecycleHookName") or ""
    if token:
        action = LIFECYCLE_ACTIONS.get(token)
        if action and action["active"] and action["groupName"] == group and action["hookName"] == hook:
            if not instance_id or instance_id == action["instanceId"]:
                return action, ""
        return None, f"No active Lifecycle Action found with token {token}"
    for action in LIFECYCLE_ACTIONS.values():
        if (
            action["active"]
            and action["instanceId"] == instance_id
            and action["groupName"] == group
            and action["hookName"] == hook
        ):
            return action, ""
    return None, f"No active Lifecycle Action found with instance ID {instance_id}"


def _lifecycle_common_validation(params: dict[str, str]) -> str | None:
    missing = [
        name for name in ("LifecycleHookName", "AutoScalingGroupName") if not params.get(name)
    ]
    if missing:
        field = missing[0][0].lower() + missing[0][1:]
        return f"1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"
    if not params.get("LifecycleActionToken") and not params.get("InstanceId"):
        return "Either LifecycleActionToken or InstanceId must be specified."
    return None


def complete_lifecycle_action(params: dict[str, str]) -> Response:
    problem = _lifecycle_common_validation(params)
    result = params.get("LifecycleActionResult")
    if problem is None and not result:
        problem = (
            "1 validation error detected: Value null at 'lifecycleActionResult' "
            "failed to satisfy constraint: Member must not be null"
        )
    if problem is None and result not in ("CONTINUE", "ABANDON"):
        problem = f"Invalid value for LifecycleActionResult: {result}. Valid values are CONTINUE and ABANDON."
    if problem:
        return error_response("autoscaling", "ValidationError", problem)
    action, message = _find_action(params)
    if action is None:
        return error_response("autoscaling", "ValidationError", message)
    _end_action(action, result)
    return query_ok("autoscaling", "CompleteLifecycleAction")


def record_heartbeat(params: dict[str, str]) -> Response:
    problem = _lifecycle_common_validation(params)
    if problem:
        return error_response("autoscaling", "ValidationError", problem)
    action, message = _find_action(params)
    if action is None:
        return error_response("autoscaling", "ValidationError", message)
    action["lastBeat"] = time.monotonic()
    HEARTBEATS.append(
        {
            "groupName": action["groupName"],
            "hookName": action["hookName"],
            "instanceId": action["instanceId"],
            "token": action["token"],
            "at": now_iso(),
        }
    )
    return query_ok("autoscaling", "RecordLifecycleActionHeartbeat")


HANDLERS: dict[tuple[str, str], Callable[[dict[str, str]], Response]] = {
    ("autoscaling", "CompleteLifecycleAction"): complete_lifecycle_action,
    ("autoscaling", "RecordLifecycleActionHeartbeat"): record_heartbeat,
}
