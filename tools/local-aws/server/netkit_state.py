"""Harness state shared by every patch (all guarded by LOCK), and its settings.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import threading
import time
from typing import Any

from moto.ec2.exceptions import EC2ClientError

import netkit_ec2_contracts as ec2_contracts

LOCK = threading.RLock()

DEFAULT_SETTINGS: dict[str, Any] = {
    "natDeleteDelayMs": 0,
    "throttle": False,
    "describeLagMs": 0,
    "attachLagMs": 0,
    "associateLagMs": 0,
}
START_SETTINGS: dict[str, Any] = dict(DEFAULT_SETTINGS)
SETTINGS: dict[str, Any] = {}
THROTTLE: dict[str, Any] = {"enabled": False, "scale": 1.0, "burst": 1.0}

CALLS: dict[str, int] = {}
THROTTLED: dict[str, int] = {}
FAULTS: list[dict[str, Any]] = []
BUCKETS: dict[str, list[float]] = {}  # key -> [tokens, last_refill_monotonic]

LIFECYCLE_ACTIONS: dict[str, dict[str, Any]] = {}  # token -> action
COMPLETIONS: list[dict[str, Any]] = []
HEARTBEATS: list[dict[str, Any]] = []

NAT_PENDING: list[tuple[float, Any]] = []  # (deadline monotonic, NatGateway)

# Max network interfaces per instance type (EC2 documentation). Unknown types: 3.
MAX_ENIS: dict[str, int] = {
    "t2.nano": 2,
    "t2.micro": 2,
    "t2.small": 3,
    "t2.medium": 3,
    "t2.large": 3,
    "t3.nano": 2,
    "t3.micro": 2,
    "t3.small": 3,
    "t3.medium": 3,
    "t3.large": 3,
    "t3.xlarge": 4,
    "t3.2xlarge": 4,
    "t3a.nano": 2,
    "t3a.micro": 2,
    "t3a.small": 2,
    "t3a.medium": 3,
    "t3a.large": 3,
    "t4g.nano": 2,
    "t4g.micro": 2,
    "t4g.small": 3,
    "t4g.medium": 3,
    "t4g.large": 3,
    "m5.large": 3,
    "m5.xlarge": 4,
    "m5.2xlarge": 4,
    "m5.4xlarge": 8,
    "m6i.large": 3,
    "m6i.xlarge": 4,
    "m6g.large": 3,
    "m6g.xlarge": 4,
    "c5.large": 3,
    "c5.xlarge": 4,
}
DEFAULT_MAX_ENIS = 3


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def apply_settings(settings: dict[str, Any]) -> None:
    ec2_contracts.apply_settings(settings)
    if settings.get("describeLagMs") is not None:
        SETTINGS["describeLagMs"] = ec2_contracts.SETTINGS["describeLagMs"]
    for lag in ("attachLagMs", "associateLagMs"):
        if settings.get(lag) is not None:
            SETTINGS[lag] = ec2_contracts.SETTINGS[lag]
    if "natDeleteDelayMs" in settings and settings["natDeleteDelayMs"] is not None:
        SETTINGS["natDeleteDelayMs"] = max(0.0, float(settings["natDeleteDelayMs"]))
    if "throttle" in settings and settings["throttle"] is not None:
        thr = settings["throttle"]
        SETTINGS["throttle"] = thr
        if isinstance(thr, dict):
            THROTTLE["enabled"] = True
            THROTTLE["scale"] = float(thr.get("scale") or 1.0)
            THROTTLE["burst"] = float(thr.get("burst") or 1.0)
        else:
            THROTTLE["enabled"] = bool(thr)
            THROTTLE["scale"] = 1.0
            THROTTLE["burst"] = 1.0
        BUCKETS.clear()


class EC2Error(EC2ClientError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
