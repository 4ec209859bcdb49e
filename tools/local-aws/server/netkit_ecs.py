"""ECS request behaviours that moto 5.2.1 lacks, kept apart from the EC2 patches in netkit_moto.py.

- RunTask `clientToken` idempotency. ECS API reference, "Ensuring idempotency"
  (AmazonECS/latest/APIReference/ECS_Idempotency.html, "Idempotency for RunTask"): a retry with the
  same client token and the same parameters returns the result of the original request; the same
  token with one or more different parameters fails with `ConflictException`; tokens are scoped to
  the cluster and live 24 hours. moto ignores the token and starts new tasks on every retry.
- Injected Fargate capacity failure: RunTask answers HTTP 200 with no task and a `failures[]` entry
  whose reason is the one ECS documents for unavailable Fargate capacity ("Capacity is unavailable
  at this time. Please try again later or in a different availability zone"). That answer is the
  request's result, so a replay with the same token returns it again, as ECS does.
- ListTasks: "When you specify startedBy as the filter, it must be the only filter that you use"
  (ListTasks API reference). AWS does not document what it does otherwise; the harness rejects
  the combination with `InvalidParameterException` so code that relies on it fails here.

Everything here runs under netkit_moto's global lock.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable

Response = tuple[int, list[tuple[str, str]], bytes]

RUN_TASK_TOKEN_TTL_S = 24 * 3600
CAPACITY_REASON = "Capacity is unavailable at this time. Please try again later or in a different availability zone"

# (region, cluster name, client token) -> {"params", "status", "headers", "body", "at"}
RUN_TASK_TOKENS: dict[tuple[str, str, str], dict[str, Any]] = {}
# Pending injected capacity failures, consumed in order by RunTask calls that reach the emulator.
CAPACITY_FAILURES: list[dict[str, Any]] = []


def reset() -> None:
    RUN_TASK_TOKENS.clear()
    CAPACITY_FAILURES.clear()


def _json(status: int, payload: Any, error_type: str | None = None) -> Response:
    headers = [("Content-Type", "application/x-amz-json-1.1"), ("x-amzn-RequestId", str(uuid.uuid4()))]
    if error_type is not None:
        headers.append(("x-amzn-ErrorType", error_type))
    return status, headers, json.dumps(payload).encode()


def _error(code: str, message: str, **extra: Any) -> Response:
    return _json(400, {"__type": code, "message": message, **extra}, code)


def _cluster_name(cluster: Any) -> str:
    if not isinstance(cluster, str) or cluster == "":
        return "default"
    return cluster.split("/")[-1]


def add_capacity_failure(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Control route: the next `times` RunTask calls (optionally only for `cluster`) fail for capacity."""
    try:
        times = int(payload.get("times") or 1)
    except (TypeError, ValueError):
        return 400, {"error": "times must be an integer >= 1"}
    if times < 1:
        return 400, {"error": "times must be an integer >= 1"}
    cluster = payload.get("cluster")
    if cluster is not None and (not isinstance(cluster, str) or cluster == ""):
        return 400, {"error": "cluster must be a cluster name or ARN"}
    reason = payload.get("reason") or CAPACITY_REASON
    CAPACITY_FAILURES.append(
        {"left": times, "cluster": None if cluster is None else _cluster_name(cluster), "reason": str(reason)}
    )
    return 200, {"ok": True}


def _take_capacity_failure(cluster: str) -> dict[str, Any] | None:
    for failure in CAPACITY_FAILURES:
        if failure["left"] > 0 and failure["cluster"] in (None, cluster):
            failure["left"] -= 1
            return failure
    return None


def _expire(now: float) -> None:
    for key in [k for k, v in RUN_TASK_TOKENS.items() if now - v["at"] >= RUN_TASK_TOKEN_TTL_S]:
        del RUN_TASK_TOKENS[key]


def run_task(region: str, body: bytes, call_moto: Callable[[], Response]) -> Response:
    try:
        request = json.loads(body.decode() or "{}")
    except ValueError:
        request = None
    if not isinstance(request, dict):
        return call_moto()
    token = request.get("clientToken")
    if token is not None and (not isinstance(token, str) or not 1 <= len(token) <= 64):
        return _error("InvalidParameterException", "clientToken must be 1 to 64 ASCII characters (33-126).")
    if isinstance(token, str) and any(not 33 <= ord(ch) <= 126 for ch in token):
        return _error("InvalidParameterException", "clientToken must be 1 to 64 ASCII characters (33-126).")
    cluster = _cluster_name(request.get("cluster"))
    params = {k: v for k, v in request.items() if k != "clientToken"}
    now = time.time()
    _expire(now)
    key = (region, cluster, token) if isinstance(token, str) else None
    if key is not None and key in RUN_TASK_TOKENS:
        earlier = RUN_TASK_TOKENS[key]
        if earlier["params"] != params:
            return _error(
                "ConflictException",
                "The RunTask request could not be processed due to conflicts. The provided clientToken is "
                "already in use with a different RunTask request.",
                resourceIds=earlier["taskArns"],
            )
        return earlier["status"], list(earlier["headers"]), earlier["body"]

    failure = _take_capacity_failure(cluster)
    if failure is not None:
        response = _json(200, {"tasks": [], "failures": [{"reason": failure["reason"]}]})
    else:
        response = call_moto()
    status, headers, payload = response
    if key is not None and status == 200:
        try:
            task_arns = [t.get("taskArn") for t in json.loads(payload.decode()).get("tasks", [])]
        except (ValueError, AttributeError):
            task_arns = []
        RUN_TASK_TOKENS[key] = {
            "params": params,
            "status": status,
            "headers": [(h, v) for h, v in headers if h.lower() != "content-length"],
            "body": payload,
            "taskArns": [a for a in task_arns if isinstance(a, str)],
            "at": now,
        }
    return response


LIST_TASKS_OTHER_FILTERS = ("containerInstance", "family", "serviceName", "desiredStatus", "launchType")


def list_tasks(body: bytes) -> Response | None:
    try:
        request = json.loads(body.decode() or "{}")
    except ValueError:
        return None
    if not isinstance(request, dict) or request.get("startedBy") in (None, ""):
        return None
    others = [f for f in LIST_TASKS_OTHER_FILTERS if request.get(f) not in (None, "")]
    if others:
        return _error(
            "InvalidParameterException",
            f"startedBy must be the only filter; remove {', '.join(others)}.",
        )
    return None


def intercept(service: str, region: str, action: str, body: bytes, call_moto: Callable[[], Response]) -> Response | None:
    """The ECS answer for this request, or None to let moto answer it unchanged."""
    if service != "ecs":
        return None
    if action == "RunTask":
        return run_task(region, body, call_moto)
    if action == "ListTasks":
        return list_tasks(body)
    return None
