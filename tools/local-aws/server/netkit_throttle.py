"""Throttling: token buckets per region and action family (off by default).

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import math
import re
import time

from netkit_protocol import Response, error_response
from netkit_state import BUCKETS, THROTTLE

NON_MUTATING_PREFIXES = ("Describe", "Get", "List", "Search")


def ec2_bucket(action: str, params: dict[str, str]) -> tuple[str, float, float]:
    if action.startswith(NON_MUTATING_PREFIXES):
        filtered = any(k.startswith("Filter.") or k == "MaxResults" or k == "NextToken" for k in params) or any(
            re.match(r"^[A-Za-z]+Id(s)?\.\d+$", k) or k.endswith("Id.1") for k in params
        )
        if not filtered and action.startswith("Describe"):
            return f"ec2:{action}:unfiltered", 50, 10
        return f"ec2:{action}", 100, 20
    if action in ("CreateNetworkInterface", "DeleteNetworkInterface", "ModifyNetworkInterfaceAttribute"):
        return f"ec2:{action}", 100, 5
    if action.startswith(("CreateNetworkInterface", "DeleteNetworkInterface", "ModifyNetworkInterface")):
        return f"ec2:{action}", 100, 5
    if action in ("CreateTags", "DeleteTags"):
        return f"ec2:{action}", 100, 10
    if action in ("CreateNatGateway", "DeleteNatGateway"):
        return f"ec2:{action}", 10, 1
    if action in ("CreateVpcEndpoint", "DeleteVpcEndpoints"):
        return f"ec2:{action}", 4, 0.3
    return f"ec2:{action}", 50, 5


def take_token(key: str, capacity: float, refill: float) -> bool:
    capacity = max(1.0, math.floor(capacity * THROTTLE["burst"]))
    refill = refill * THROTTLE["scale"]
    now = time.monotonic()
    bucket = BUCKETS.get(key)
    if bucket is None:
        bucket = [capacity, now]
        BUCKETS[key] = bucket
    bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * refill)
    bucket[1] = now
    if bucket[0] >= 1.0:
        bucket[0] -= 1.0
        return True
    return False


def throttle_check(service: str, region: str, action: str, params: dict[str, str]) -> Response | None:
    if not THROTTLE["enabled"]:
        return None
    if service == "ec2":
        key, capacity, refill = ec2_bucket(action, params)
        if not take_token(f"{region}:{key}", capacity, refill):
            return error_response("ec2", "RequestLimitExceeded", "Request limit exceeded.", 503)
    elif service == "autoscaling":
        if not take_token(f"{region}:autoscaling", 50, 10):
            return error_response("autoscaling", "Throttling", "Rate exceeded", 400)
    return None
