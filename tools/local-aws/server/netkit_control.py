"""The control API (/_netkit/...): reset, settings, faults, lifecycle actions, call counts.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import json
import random
import time
import uuid

from moto.moto_api._internal.models import moto_api_backend

import netkit_cfn
import netkit_ec2_contracts as ec2_contracts
import netkit_ecs
import netkit_iam
from netkit_lifecycle import expire_lifecycle_actions
from netkit_protocol import Response, json_response
from netkit_state import (
    BUCKETS,
    CALLS,
    COMPLETIONS,
    DEFAULT_SETTINGS,
    FAULTS,
    HEARTBEATS,
    LIFECYCLE_ACTIONS,
    NAT_PENDING,
    SETTINGS,
    START_SETTINGS,
    THROTTLED,
    apply_settings,
)

def reset_all() -> None:
    moto_api_backend.reset()
    CALLS.clear()
    THROTTLED.clear()
    FAULTS.clear()
    BUCKETS.clear()
    LIFECYCLE_ACTIONS.clear()
    COMPLETIONS.clear()
    HEARTBEATS.clear()
    NAT_PENDING.clear()
    ec2_contracts.reset()
    netkit_ecs.reset()
    netkit_cfn.reset()
    netkit_iam.reset()
    SETTINGS.clear()
    SETTINGS.update(DEFAULT_SETTINGS)
    apply_settings(START_SETTINGS)


def control(method: str, path: str, body: bytes) -> Response:
    try:
        payload = json.loads(body.decode() or "{}") if body else {}
    except ValueError:
        return json_response(400, {"error": "invalid JSON body"})
    route = path[len("/_netkit") :]
    if route == "/health":
        return json_response(200, {"ok": True})
    if route == "/reset" and method == "POST":
        reset_all()
        return json_response(200, {"ok": True})
    if route == "/configure" and method == "POST":
        apply_settings(payload)
        return json_response(200, {"settings": SETTINGS})
    if route == "/faults" and method == "POST":
        reset = payload.get("reset")
        if reset not in (None, "before", "after"):
            return json_response(400, {"error": "fault.reset must be 'before' or 'after'"})
        for field in ("service", "action") if reset else ("service", "action", "code"):
            if not isinstance(payload.get(field), str) or not payload[field]:
                return json_response(400, {"error": f"fault.{field} is required"})
        nth = int(payload.get("nth") or 1)
        times = int(payload.get("times") or 1)
        if nth < 1 or times < 1:
            return json_response(400, {"error": "nth and times must be >= 1"})
        rate = payload.get("rate")
        if rate is not None and (not isinstance(rate, (int, float)) or not 0 < rate <= 1):
            return json_response(400, {"error": "fault.rate must be a number in (0, 1]"})
        FAULTS.append(
            {
                "service": payload["service"].lower(),
                "action": payload["action"],
                "nth": nth,
                "times": times,
                "code": payload.get("code") or "ConnectionReset",
                "message": payload.get("message") or f"Injected fault: {payload.get('code') or 'reset'}",
                "status": int(payload.get("status") or 400),
                "seen": 0,
                "reset": reset,
                "rate": rate,
                "random": random.Random(payload.get("seed") or 1),
            }
        )
        return json_response(200, {"ok": True})
    if route == "/faults/clear" and method == "POST":
        FAULTS.clear()
        return json_response(200, {"ok": True})
    if route == "/calls" and method == "GET":
        return json_response(200, CALLS)
    if route == "/calls/reset" and method == "POST":
        CALLS.clear()
        THROTTLED.clear()
        return json_response(200, {"ok": True})
    if route == "/throttled" and method == "GET":
        return json_response(200, THROTTLED)
    if route == "/lifecycle/begin" and method == "POST":
        for field in ("groupName", "hookName", "instanceId"):
            if not isinstance(payload.get(field), str) or not payload[field]:
                return json_response(400, {"error": f"{field} is required"})
        token = payload.get("token") or str(uuid.uuid4())
        timeout = payload.get("heartbeatTimeoutMs")
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            return json_response(400, {"error": "heartbeatTimeoutMs must be a positive number"})
        default_result = payload.get("defaultResult") or "ABANDON"
        if default_result not in ("CONTINUE", "ABANDON"):
            return json_response(400, {"error": "defaultResult must be CONTINUE or ABANDON"})
        LIFECYCLE_ACTIONS[token] = {
            "heartbeatTimeoutMs": timeout,
            "defaultResult": default_result,
            "lastBeat": time.monotonic(),
            "groupName": payload["groupName"],
            "hookName": payload["hookName"],
            "instanceId": payload["instanceId"],
            "token": token,
            "transition": payload.get("transition") or "autoscaling:EC2_INSTANCE_LAUNCHING",
            "active": True,
        }
        return json_response(200, {"token": token})
    if route == "/ecs/capacity-failure" and method == "POST":
        status, answer = netkit_ecs.add_capacity_failure(payload)
        return json_response(status, answer)
    if route == "/cloudformation/delete-failure" and method == "POST":
        status, answer = netkit_cfn.add_delete_failure(payload)
        return json_response(status, answer)
    if route.startswith("/iam/"):
        return iam_control(method, route, payload)
    if route == "/lifecycle/completions" and method == "GET":
        expire_lifecycle_actions()
        return json_response(200, COMPLETIONS)
    if route == "/lifecycle/heartbeats" and method == "GET":
        return json_response(200, HEARTBEATS)
    return json_response(404, {"error": f"unknown control route {method} {path}"})


def iam_control(method: str, route: str, payload: dict) -> Response:
    """/_netkit/iam/...: function registrations, refusals, the evaluator and template policies."""
    if route == "/iam/functions" and method == "POST":
        status, answer = netkit_iam.register(payload)
        return json_response(status, answer)
    if route == "/iam/table" and method == "GET":
        import netkit_iam_resources

        return json_response(200, sorted(netkit_iam_resources.TABLE))
    if route == "/iam/refusals" and method == "GET":
        return json_response(200, netkit_iam.REFUSALS)
    if route == "/iam/refusals/take" and method == "POST":
        taken = list(netkit_iam.REFUSALS)
        netkit_iam.REFUSALS.clear()
        return json_response(200, taken)
    if route == "/iam/evaluate" and method == "POST":
        try:
            answer = netkit_iam.evaluate(
                payload.get("policies") or [], payload["action"], payload.get("resource", "*"), payload.get("context") or {}
            )
        except (KeyError, ValueError) as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, answer)
    if route == "/iam/template-policies" and method == "POST":
        import netkit_iam_template

        try:
            answer = netkit_iam_template.function_policies(
                payload, payload.get("region") or "us-east-1", payload.get("accountId") or "123456789012"
            )
        except netkit_iam_template.TemplateError as exc:
            return json_response(400, {"error": str(exc)})
        return json_response(200, answer)
    return json_response(404, {"error": f"unknown control route {method} /_netkit{route}"})
