#!/usr/bin/env python3
"""moto_server plus the AWS behaviours moto 5.2.1 lacks, for the netkit test harness.

Usage: python3 netkit_moto.py --host 127.0.0.1 --port 0 [--settings JSON]

Prints ``NETKIT_MOTO_READY http://HOST:PORT`` on stdout once the socket accepts
connections. Every API request is handled under one global lock, so each call is
atomic (moto's state is not thread safe, and AWS attach/associate calls are atomic
claims). See ../README.md for the list of patches and the control API.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import math
import os
import re
import sys
import threading
import time
import traceback
import uuid
from typing import Any, Callable
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

MOTO_REQUIRED = "5.2.1"
INSTALL_HINT = "pip install 'moto[server]==5.2.1'"

try:
    import moto  # noqa: F401
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import WSGIRequestHandler, make_server
except ImportError as exc:  # pragma: no cover - exercised by the Node test suite
    sys.stderr.write(f"NETKIT_MOTO_MISSING: cannot import moto server ({exc}). Install it with: {INSTALL_HINT}\n")
    sys.stderr.flush()
    sys.exit(3)

from moto.autoscaling.models import autoscaling_backends  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.ec2.exceptions import (  # noqa: E402
    EC2ClientError,
    InvalidNetworkAttachmentIdError,
    ResourceAlreadyAssociatedError,
)
from moto import settings as moto_settings  # noqa: E402
from moto.ec2.models import EC2Backend  # noqa: E402
from moto.ec2.models.amis import AMIS, Ami, AmiBackend, parse_timestamp  # noqa: E402
from moto.ec2.models.elastic_ip_addresses import ElasticAddress  # noqa: E402
from moto.ec2.models.elastic_network_interfaces import NetworkInterface  # noqa: E402
from moto.ec2.models.instances import Instance  # noqa: E402
from moto.ec2.models.vpcs import VPCEndPoint  # noqa: E402
from moto.ec2.responses import EC2Response  # noqa: E402
from moto.ec2.models.core import TaggedEC2Resource  # noqa: E402
from moto.ec2.utils import (  # noqa: E402
    EC2_PREFIX_TO_RESOURCE,
    generate_dns_from_ip,
    get_prefix,
    random_eip_association_id,
    random_public_ip,
)
from moto.ecs import models as ecs_models  # noqa: E402
from moto.moto_api._internal.models import moto_api_backend  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netkit_ec2_contracts as ec2_contracts  # noqa: E402  (ClientToken, multi-ENI associate, describe lag)
import netkit_ecs  # noqa: E402  (ECS behaviours: RunTask clientToken, capacity failures, ListTasks)
import netkit_cfn  # noqa: E402  (CloudFormation DeleteStack: DELETE_FAILED and RetainResources)
import netkit_serialize  # noqa: E402  (moto's response serializer without repeated lookups)

# --------------------------------------------------------------------------------------
# Harness state (all guarded by LOCK)
# --------------------------------------------------------------------------------------

LOCK = threading.RLock()

DEFAULT_SETTINGS: dict[str, Any] = {"natDeleteDelayMs": 0, "throttle": False, "describeLagMs": 0}
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


# --------------------------------------------------------------------------------------
# EC2 patches: ENIs
# --------------------------------------------------------------------------------------


def _attached_nics(instance: Any) -> list[Any]:
    return [nic for nic in instance.nics.values() if nic.instance is instance]


def patched_attach_network_interface(self: Any, eni_id: str, instance_id: str, device_index: Any) -> Any:
    eni = self.get_network_interface(eni_id)
    instance = self.get_instance(instance_id)  # InvalidInstanceID.NotFound
    if instance.state not in ("running", "stopped"):
        raise EC2Error(
            "IncorrectInstanceState",
            f"The instance '{instance_id}' is not in a valid state for this operation.",
        )
    if eni.instance is not None or eni.status == "in-use":
        raise EC2Error("InvalidNetworkInterface.InUse", f"Interface: [{eni_id}] in use.")
    if eni.availability_zone != instance._placement.zone:
        raise EC2Error(
            "InvalidParameterCombination",
            "You may not attach a network interface to an instance if they are not in the same availability zone",
        )
    index = int(device_index)
    taken = instance.nics.get(index)
    if taken is not None and taken.instance is instance:
        raise EC2Error(
            "InvalidParameterValue",
            f"Instance '{instance_id}' already has an interface attached at device index '{index}'.",
        )
    limit = MAX_ENIS.get(instance.instance_type, DEFAULT_MAX_ENIS)
    count = len(_attached_nics(instance))
    if count >= limit:
        raise EC2Error(
            "AttachmentLimitExceeded",
            f"Interface count {count + 1} exceeds the limit for {instance.instance_type}",
        )
    instance.attach_eni(eni, index)
    # A new attachment never inherits DeleteOnTermination: AttachNetworkInterface defaults it to false.
    eni.delete_on_termination = False
    return eni.attachment


def patched_detach_network_interface(self: Any, attachment_id: str) -> None:
    for eni in list(self.enis.values()):
        if eni.attachment_id == attachment_id and eni.instance is not None:
            if eni.device_index == 0:
                raise EC2Error(
                    "OperationNotPermitted",
                    "The network interface at device index 0 and networkCard index 0 cannot be detached.",
                )
            eni.instance.detach_eni(eni)
            eni.delete_on_termination = False
            return
    raise InvalidNetworkAttachmentIdError(attachment_id)


_orig_delete_network_interface = EC2Backend.delete_network_interface


def patched_delete_network_interface(self: Any, eni_id: str) -> None:
    eni = self.enis.get(eni_id)
    if eni is not None and (eni.instance is not None or eni.status == "in-use"):
        raise EC2Error(
            "InvalidNetworkInterface.InUse",
            f"The network interface '{eni_id}' is currently in use.",
        )
    _orig_delete_network_interface(self, eni_id)


def _drop_eni(backend: Any, eni: Any) -> None:
    """Delete an ENI the way EC2 does when it owns the deletion (terminate, NAT, task stop)."""
    for eip in list(backend.addresses):
        if eip.eni is eni:
            _unmap_eip(eip)
    backend.enis.pop(eni.id, None)
    try:
        for priv in eni.private_ip_addresses:
            eni.subnet.del_subnet_ip(priv["PrivateIpAddress"])
    except Exception:  # noqa: BLE001 - IP bookkeeping only
        pass
    eni.status = "deleted"


_orig_prep_nics = Instance.prep_nics


def patched_prep_nics(self: Any, nic_spec: list[dict[str, Any]], *args: Any, **kwargs: Any) -> None:
    existing = set(self.ec2_backend.enis.keys())
    explicit = {
        int(spec.get("DeviceIndex", 0)): spec.get("DeleteOnTermination")
        for spec in (nic_spec or [])
        if "DeleteOnTermination" in spec
    }
    _orig_prep_nics(self, nic_spec, *args, **kwargs)
    for index, nic in self.nics.items():
        if nic.id not in existing and index not in explicit:
            # RunInstances creates its ENIs with DeleteOnTermination=true unless told otherwise.
            nic.delete_on_termination = True


_orig_terminate = Instance.terminate


def patched_terminate(self: Any) -> Any:
    if self._state.name == "terminated":
        return copy.copy(self._state)
    backend = self.ec2_backend
    for nic in list(self.nics.values()):
        if nic.instance is not self:
            continue
        nic.stop()
        delete = bool(nic.delete_on_termination)
        nic.instance = None
        nic.attachment_id = None
        nic.attach_time = None
        nic.device_index = None
        nic.status = "available"
        if delete:
            _drop_eni(backend, nic)
    # moto's terminate would delete DeleteOnTermination ENIs again; we already handled all of them.
    saved = self.nics
    self.nics = {}
    try:
        previous = _orig_terminate(self)
    finally:
        self.nics = saved
    return previous


_orig_modify_eni_attr_response = EC2Response.modify_network_interface_attribute


def patched_modify_eni_attr_response(self: Any) -> Any:
    attachment = self._get_param("Attachment")
    if attachment:
        eni_id = self._get_param("NetworkInterfaceId")
        eni = self.ec2_backend.get_network_interface(eni_id)
        attachment_id = attachment.get("AttachmentId")
        if not attachment_id or eni.attachment_id != attachment_id:
            raise InvalidNetworkAttachmentIdError(attachment_id or "")
        if "DeleteOnTermination" in attachment:
            value = attachment.get("DeleteOnTermination")
            eni.delete_on_termination = value is True or str(value).lower() == "true"
    return _orig_modify_eni_attr_response(self)


def _eni_private_dns_get(self: Any) -> Any:
    value = self.__dict__.get("_netkit_private_dns_name")
    if value:
        return value
    if getattr(self, "private_ip_address", None):
        return generate_dns_from_ip(self.private_ip_address)
    return None


def _eni_private_dns_set(self: Any, value: Any) -> None:
    self.__dict__["_netkit_private_dns_name"] = value


# --------------------------------------------------------------------------------------
# EC2 patches: Elastic IPs, NAT gateways, internet gateways
# --------------------------------------------------------------------------------------


def _eip_private_ip(self: Any) -> Any:
    if not self.eni:
        return None
    return self.__dict__.get("_netkit_private_ip") or self.eni.private_ip_address


def _unmap_eip(eip: Any) -> None:
    eni = eip.eni
    if eni is not None and eni.public_ip == eip.public_ip:
        eni.public_ip = None
        if eni.instance is not None and eni.instance._state.name == "running":
            eni.check_auto_public_ip()
    eip.eni = None
    eip.instance = None
    eip.association_id = None
    eip.__dict__.pop("_netkit_private_ip", None)


def _nat_for_eni(backend: Any, eni: Any) -> Any:
    if eni is None:
        return None
    for nat in backend.nat_gateways.values():
        if getattr(nat, "_eni", None) is eni and nat.state != "deleted":
            return nat
    return None


def _lookup_eip(backend: Any, address: Any, allocation_id: Any) -> Any:
    if address:
        return backend.address_by_ip([address])[0]
    return backend.address_by_allocation([allocation_id])[0]


def patched_associate_address(
    self: Any,
    instance: Any = None,
    eni: Any = None,
    address: Any = None,
    allocation_id: Any = None,
    reassociate: Any = True,
    private_ip: Any = None,
) -> Any:
    eip = _lookup_eip(self, address, allocation_id)
    if eni is None:
        if instance is None or not instance.nics or 0 not in instance.nics:
            raise EC2Error("InvalidInstanceID", "The instance does not have a network interface.")
        ec2_contracts.check_associate_by_instance(instance)
        if instance._state.name not in ("running", "stopped", "pending"):
            raise EC2Error(
                "IncorrectInstanceState",
                f"The instance '{instance.id}' is not in a valid state for this operation.",
            )
        eni = instance.nics[0]
    target_ip = private_ip or eni.private_ip_address
    if private_ip and private_ip not in [p.get("PrivateIpAddress") for p in eni.private_ip_addresses]:
        raise EC2Error(
            "InvalidParameterValue",
            f"The specified private IP address {private_ip} is not assigned to network interface {eni.id}.",
        )
    if eip.eni is eni and _eip_private_ip(eip) == target_ip:
        # Same EIP, same interface and address: idempotent success.
        eip.instance = eni.instance
        return eip
    if eip.eni is not None:
        if _nat_for_eni(self, eip.eni) is not None or not reassociate:
            raise ResourceAlreadyAssociatedError(eip.allocation_id or eip.public_ip)
        _unmap_eip(eip)
    # EC2 maps one public IPv4 to one private IPv4: the previous EIP on that address is unassociated.
    for other in list(self.addresses):
        if other is not eip and other.eni is eni and _eip_private_ip(other) == target_ip:
            _unmap_eip(other)
    eip.eni = eni
    eip.instance = eni.instance
    eip.__dict__["_netkit_private_ip"] = target_ip
    if target_ip == eni.private_ip_address:
        eni.public_ip = eip.public_ip
    if eip.domain == "vpc" or eip.allocation_id:
        eip.association_id = random_eip_association_id()
    return eip


def patched_associate_address_response(self: Any) -> Any:
    from moto.core.responses import ActionResult

    params = self._get_params()
    instance = eni = None
    if params.get("InstanceId"):
        instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
    elif params.get("NetworkInterfaceId"):
        eni = self.ec2_backend.get_network_interface(self._get_param("NetworkInterfaceId"))
    else:
        raise EC2Error("MissingParameter", "Invalid request, expect InstanceId/NetworkId parameter.")
    raw = self._get_param("AllowReassociation")
    # EC2 (VPC): "Reassociation is automatic, but you can specify false to ensure the operation
    # fails if the Elastic IP address is already associated with another resource."
    reassociate = True if raw is None else (raw is True or str(raw).lower() == "true")
    self.error_on_dryrun()
    if not params.get("PublicIp") and not params.get("AllocationId"):
        raise EC2Error("MissingParameter", "Invalid request, expect PublicIp/AllocationId parameter.")
    eip = self.ec2_backend.associate_address(
        instance=instance,
        eni=eni,
        address=self._get_param("PublicIp"),
        allocation_id=self._get_param("AllocationId"),
        reassociate=reassociate,
        private_ip=self._get_param("PrivateIpAddress"),
    )
    return ActionResult({"AssociationId": eip.association_id})


def patched_disassociate_address(self: Any, address: Any = None, association_id: Any = None) -> None:
    if address:
        eip = self.address_by_ip([address])[0]
    else:
        eip = self.address_by_association([association_id])[0]
    if _nat_for_eni(self, eip.eni) is not None:
        raise EC2Error("InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use.")
    _unmap_eip(eip)


def patched_release_address(self: Any, address: Any = None, allocation_id: Any = None) -> None:
    eip = _lookup_eip(self, address, allocation_id)
    if eip.eni is not None:
        # VPC: an EIP must be disassociated (and a NAT gateway fully deleted) before release.
        raise EC2Error("InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use.")
    eip.allocation_id = None
    self.addresses.remove(eip)


_orig_create_nat_gateway = EC2Backend.create_nat_gateway


def patched_create_nat_gateway(self: Any, *args: Any, **kwargs: Any) -> Any:
    nat = _orig_create_nat_gateway(self, *args, **kwargs)
    eni = nat._eni
    eni.status = "in-use"
    eni.interface_type = "nat_gateway"
    eni.requester_managed = True
    eni.description = f"Interface for NAT Gateway {nat.id}"
    return nat


def _finalize_nat(nat: Any) -> None:
    if nat.state == "deleted":
        return
    nat.state = "deleted"
    eni = getattr(nat, "_eni", None)
    if eni is not None:
        eni.status = "available"
        _drop_eni(nat.ec2_backend, eni)


def patched_delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
    nat = self.nat_gateways.get(nat_gateway_id)
    if nat is None:
        raise EC2Error("NatGatewayNotFound", f"The Nat Gateway {nat_gateway_id} was not found")
    if nat.state in ("deleting", "deleted"):
        return nat
    delay_ms = float(SETTINGS.get("natDeleteDelayMs") or 0)
    if delay_ms <= 0:
        _finalize_nat(nat)
    else:
        nat.state = "deleting"
        NAT_PENDING.append((time.monotonic() + delay_ms / 1000.0, nat))
    return nat


def tick() -> None:
    if not NAT_PENDING:
        return
    now = time.monotonic()
    remaining = []
    for deadline, nat in NAT_PENDING:
        if deadline <= now:
            _finalize_nat(nat)
        else:
            remaining.append((deadline, nat))
    NAT_PENDING[:] = remaining


def patched_detach_internet_gateway(self: Any, internet_gateway_id: str, vpc_id: str) -> None:
    igw = self.get_internet_gateway(internet_gateway_id)
    if igw.vpc is not None and igw.vpc.id == vpc_id:
        mapped = any(eip.eni is not None and eip.eni.subnet.vpc_id == vpc_id for eip in self.addresses)
        mapped = mapped or any(
            eni.public_ip and eni.subnet.vpc_id == vpc_id and eni.status != "deleted" for eni in self.enis.values()
        )
        if mapped:
            raise EC2Error(
                "DependencyViolation",
                f"Network {vpc_id} has some mapped public address(es). "
                "Please unmap those public address(es) before detaching the gateway.",
            )
    _orig_detach_internet_gateway(self, internet_gateway_id, vpc_id)


_orig_detach_internet_gateway = EC2Backend.detach_internet_gateway

_orig_create_vpc_endpoint = EC2Backend.create_vpc_endpoint


def patched_create_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
    endpoint = _orig_create_vpc_endpoint(self, *args, **kwargs)
    groups = [self.get_security_group_from_id(g) for g in (endpoint.security_group_ids or [])]
    for eni_id in endpoint.network_interface_ids or []:
        eni = self.enis.get(eni_id)
        if eni is None:
            continue
        eni.status = "in-use"
        eni.interface_type = "vpc_endpoint"
        eni.requester_managed = True
        eni.description = f"VPC Endpoint Interface {endpoint.id}"
        if any(groups):
            eni._group_set = [g for g in groups if g is not None]
    return endpoint


def vpc_endpoint_delete(self: Any, account_id: str, region_name: str) -> None:
    """CloudFormation DeleteStack: moto has no delete for AWS::EC2::VPCEndpoint."""
    self.ec2_backend.delete_vpc_endpoints([self.id])


# --------------------------------------------------------------------------------------
# ECS patches (awsvpc tasks)
# --------------------------------------------------------------------------------------

_orig_task_init = ecs_models.Task.__init__


def patched_task_init(self: Any, *args: Any, **kwargs: Any) -> None:
    net = kwargs.get("networking_configuration")
    if isinstance(net, dict) and isinstance(net.get("awsvpcConfiguration"), dict):
        conf = net["awsvpcConfiguration"]
        conf.setdefault("securityGroups", [])
        if not conf.get("subnets"):
            raise ecs_models.InvalidParameterException("subnets can not be empty.")
    _orig_task_init(self, *args, **kwargs)
    if isinstance(net, dict):
        conf = net.get("awsvpcConfiguration") or {}
        backend = ecs_models.ec2_backends[self._account_id][self.region_name]
        for attachment in self.attachments:
            for detail in attachment.get("details", []):
                if detail.get("name") == "networkInterfaceId":
                    eni = backend.enis.get(detail.get("value"))
                    if eni is None:
                        continue
                    eni.requester_managed = True
                    eni.description = f"arn:aws:ecs:{self.region_name}:{self._account_id}:attachment/{attachment['id']}"
                    if conf.get("assignPublicIp") == "ENABLED":
                        eni.public_ip = random_public_ip()
                    self.__dict__.setdefault("_netkit_enis", []).append(eni)


_orig_stop_task = ecs_models.EC2ContainerServiceBackend.stop_task


def patched_stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
    task = _orig_stop_task(self, cluster_str, task_str, reason)
    for eni in task.__dict__.pop("_netkit_enis", []):
        eni.status = "available"
        eni.public_ip = None
        _drop_eni(ecs_models.ec2_backends[task._account_id][task.region_name], eni)
    return task


_orig_list_tasks = ecs_models.EC2ContainerServiceBackend.list_tasks


def patched_list_tasks(
    self: Any,
    cluster_str: Any = None,
    container_instance: Any = None,
    family: Any = None,
    started_by: Any = None,
    service_name: Any = None,
    desiredStatus: Any = None,  # noqa: N803 - moto's parameter name
) -> Any:
    # ECS ListTasks: "The default status filter is RUNNING".
    return _orig_list_tasks(
        self, cluster_str, container_instance, family, started_by, service_name, desiredStatus or "RUNNING"
    )


def patched_task_resource_requirements(task_definition: Any) -> dict[str, Any]:
    """moto adds container `memory` (None when only the task sets memory, as Fargate allows) -> TypeError."""
    requirements: dict[str, Any] = {"CPU": 0, "MEMORY": 0, "PORTS": [], "PORTS_UDP": []}
    for container in task_definition.container_definitions:
        requirements["CPU"] += int(container.get("cpu", container.get("Cpu", 0)) or 0)
        memory = (
            container.get("Memory")
            or container.get("MemoryReservation")
            or container.get("memory")
            or container.get("memoryReservation")
            or 0
        )
        requirements["MEMORY"] += int(memory)
        for mapping in container.get("PortMappings", container.get("portMappings", [])) or []:
            port = mapping.get("hostPort", mapping.get("HostPort"))
            if port is not None:
                requirements["PORTS"].append(port)
    return requirements


_orig_load_amis = AmiBackend._load_amis


def patched_load_amis(self: Any) -> None:
    """Speed: load moto's 44 generic AMIs (incl. ami-12c6146b) but not the ~2300 regional ones.

    Building the regional AMIs costs ~0.4 s per EC2 backend, i.e. per reset(). Set
    NETKIT_MOTO_ALL_AMIS=1 to get moto's full default AMI catalogue.
    """
    if os.environ.get("NETKIT_MOTO_ALL_AMIS") == "1" or "MOTO_AMIS_PATH" in os.environ:
        _orig_load_amis(self)
        return
    if not moto_settings.ec2_load_default_amis():
        return
    for ami in AMIS:
        ami["owner_alias"] = "amazon"
        if ami.get("creation_date"):
            ami["creation_date"] = parse_timestamp(ami["creation_date"])
        self.amis[ami["ami_id"]] = Ami(self, **ami)


def fast_get_tags(self: Any) -> list[dict[str, str]]:
    """One resource's tags by direct lookup.

    moto's TaggedEC2Resource.get_tags asks describe_tags(resource-id=...), which compiles a
    regex and scans every tag of every resource, so a tag-filtered Describe costs
    O(resources x all tags): 0.7 s per call with 400 ENIs. Same result, one dict lookup.
    """
    resource_id = getattr(self, "id", None)
    if not resource_id:
        return []
    resource_type = EC2_PREFIX_TO_RESOURCE.get(get_prefix(resource_id), "")
    return [
        {"resource_id": resource_id, "key": key, "value": value, "resource_type": resource_type}
        for key, value in self.ec2_backend.tags.get(resource_id, {}).items()
    ]



# --------------------------------------------------------------------------------------
# CloudFormation: the AWS::Serverless-2016-10-31 transform
# --------------------------------------------------------------------------------------
# AWS expands a template's `Transform: AWS::Serverless-2016-10-31` inside CloudFormation when a
# change set is created (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/transform-aws-serverless.html),
# which is why `aws cloudformation package` + `aws cloudformation deploy` deploy a SAM template
# without the SAM CLI. moto stores the template as sent and silently skips every
# AWS::Serverless::* resource ("No Moto CloudFormation support"): a stack of nothing reaches
# CREATE_COMPLETE. Here CreateChangeSet expands the transform with the SAM translator (the one
# cfn-lint ships, as AWS uses) before moto sees the template; a template the translator rejects
# gives a FAILED change set whose reason names the transform, as CloudFormation reports it.

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
_orig_create_change_set = None


def _declares_sam_transform(template: Any) -> bool:
    transforms = template.get("Transform") if isinstance(template, dict) else None
    return SAM_TRANSFORM in (transforms if isinstance(transforms, list) else [transforms])



def patched_create_change_set(self: Any, stack_name: str, change_set_name: str, template: str, parameters: dict[str, str], *args: Any, **kwargs: Any) -> Any:
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import Stack

    # CloudFormation: a CREATE change set for a stack name that already exists (not deleted) is
    # refused ("Stack [x] already exists and cannot be created again with the changeSet [y].");
    # moto would create a second stack of the same name. A client retry must not do that.
    if kwargs.get("change_set_type", args[1] if len(args) > 1 else None) == "CREATE":
        for existing in self.stacks.values():
            if existing.name == stack_name and existing.status != "DELETE_COMPLETE":
                raise ValidationError(
                    stack_name,
                    message=f"Stack [{stack_name}] already exists and cannot be created again with the changeSet [{change_set_name}].",
                )
    parsed = Stack.parse_template(template)
    failure = None
    if _declares_sam_transform(parsed):
        try:
            template = json.dumps(_sam_translate(parsed, parameters, self.region_name, self.account_id))
        except SamTransformError as exc:
            failure = f"Transform {SAM_TRANSFORM} failed with: {exc}"
    change_set_id, stack_id = _orig_create_change_set(self, stack_name, change_set_name, template, parameters, *args, **kwargs)
    if failure is not None:
        change_set = self.change_sets[change_set_id]
        change_set.status = "FAILED"
        change_set.execution_status = "UNAVAILABLE"
        change_set.status_reason = failure
    return change_set_id, stack_id


class SamTransformError(Exception):
    pass


_SAM: dict[str, Any] = {}


def _sam_modules() -> dict[str, Any]:
    """Imports the SAM translator once (slow: it is warmed in the background at start)."""
    with _SAM_IMPORT_LOCK:
        if not _SAM:
            import importlib.util

            from samtranslator.parser import parser
            from samtranslator.public.exceptions import InvalidDocumentException
            from samtranslator.translator.translator import Translator

            # The managed policy map cfn-lint ships, read as data (importing cfn-lint is slow).
            spec = importlib.util.find_spec("cfnlint")
            if spec is None or spec.origin is None:
                raise ImportError("cfnlint")
            policies = os.path.join(os.path.dirname(spec.origin), "data", "Serverless", "ManagedPolicies.json")
            with open(policies, encoding="utf-8") as handle:
                _SAM["policies"] = json.load(handle)
            _SAM.update(parser=parser, Translator=Translator, InvalidDocumentException=InvalidDocumentException)
    return _SAM


_SAM_IMPORT_LOCK = threading.Lock()


def warm_sam_translator() -> None:
    try:
        _sam_modules()
    except ImportError:
        pass  # reported on the first change set that needs it


def _sam_translate(template: dict[str, Any], parameters: dict[str, str], region: str, account_id: str) -> dict[str, Any]:
    try:
        sam = _sam_modules()
    except ImportError as exc:  # pragma: no cover - requirements-dev.txt installs cfn-lint
        raise SamTransformError(f"the SAM translator is not installed ({exc}); pip install cfn-lint") from exc
    previous = os.environ.get("AWS_DEFAULT_REGION")
    os.environ["AWS_DEFAULT_REGION"] = region  # the translator reads the partition from it
    try:
        translator = sam["Translator"](managed_policy_map=sam["policies"], sam_parser=sam["parser"].Parser())
        values = dict(parameters)
        values.setdefault("AWS::Region", region)
        values.setdefault("AWS::AccountId", account_id)
        return translator.translate(sam_template=copy.deepcopy(template), parameter_values=values)
    except sam["InvalidDocumentException"] as exc:
        raise SamTransformError("; ".join(cause.message for cause in exc.causes)) from exc
    finally:
        if previous is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)
        else:
            os.environ["AWS_DEFAULT_REGION"] = previous


def ensure_cloudformation_patches() -> None:
    """Patched on the first CloudFormation request: importing moto's CloudFormation imports every
    service moto models, which would slow every emulator start."""
    global _orig_create_change_set
    if _orig_create_change_set is not None:
        return
    from moto.cloudformation.models import CloudFormationBackend

    _orig_create_change_set = CloudFormationBackend.create_change_set
    CloudFormationBackend.create_change_set = patched_create_change_set


def install_patches() -> None:
    AmiBackend._load_amis = patched_load_amis
    TaggedEC2Resource.get_tags = fast_get_tags
    EC2Backend.attach_network_interface = patched_attach_network_interface
    EC2Backend.detach_network_interface = patched_detach_network_interface
    EC2Backend.delete_network_interface = patched_delete_network_interface
    EC2Backend.associate_address = patched_associate_address
    EC2Backend.disassociate_address = patched_disassociate_address
    EC2Backend.release_address = patched_release_address
    EC2Backend.create_nat_gateway = patched_create_nat_gateway
    EC2Backend.delete_nat_gateway = patched_delete_nat_gateway
    EC2Backend.detach_internet_gateway = patched_detach_internet_gateway
    EC2Backend.create_vpc_endpoint = patched_create_vpc_endpoint
    Instance.prep_nics = patched_prep_nics
    Instance.terminate = patched_terminate
    EC2Response.modify_network_interface_attribute = patched_modify_eni_attr_response
    EC2Response.associate_address = patched_associate_address_response
    ElasticAddress.private_ip_address = property(_eip_private_ip)
    # EC2 omits InstanceId / NetworkInterfaceId of an unassociated address (moto sends "").
    ElasticAddress.instance_id = property(lambda self: self.instance.id if self.instance else None)
    ElasticAddress.network_interface_id = property(lambda self: self.eni.id if self.eni else None)
    NetworkInterface.private_dns_name = property(_eni_private_dns_get, _eni_private_dns_set)
    VPCEndPoint.delete = vpc_endpoint_delete
    ec2_contracts.install()
    netkit_serialize.install()
    ecs_models.Task.__init__ = patched_task_init
    ecs_models.EC2ContainerServiceBackend.stop_task = patched_stop_task
    ecs_models.EC2ContainerServiceBackend.list_tasks = patched_list_tasks
    ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
        patched_task_resource_requirements
    )


# --------------------------------------------------------------------------------------
# Protocol helpers
# --------------------------------------------------------------------------------------

QUERY_NAMESPACES = {
    "autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
    "cloudformation": "http://cloudformation.amazonaws.com/doc/2010-05-15/",
}
JSON_SERVICES = {"ecs"}

Response = tuple[int, list[tuple[str, str]], bytes]


def error_response(service: str, code: str, message: str, status: int = 400) -> Response:
    request_id = str(uuid.uuid4())
    if service in JSON_SERVICES:
        body = json.dumps({"__type": code, "message": message}).encode()
        return (
            status,
            [
                ("Content-Type", "application/x-amz-json-1.1"),
                ("x-amzn-RequestId", request_id),
                ("x-amzn-ErrorType", code),
            ],
            body,
        )
    if service == "ec2" or service not in QUERY_NAMESPACES:
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        )
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        xml = (
            f'<ErrorResponse xmlns="{QUERY_NAMESPACES[service]}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


def query_ok(service: str, action: str, result_xml: str = "") -> Response:
    request_id = str(uuid.uuid4())
    inner = f"<{action}Result>{result_xml}</{action}Result>" if result_xml else f"<{action}Result/>"
    xml = (
        f'<{action}Response xmlns="{QUERY_NAMESPACES[service]}">{inner}'
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    )
    return 200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], xml.encode()


def json_response(status: int, payload: Any) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


CRED_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/([^/]+)/([^/]+)/aws4_request")


def identify(environ: dict[str, Any], body: bytes) -> tuple[str, str, str, dict[str, str]]:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    match = CRED_RE.search(auth)
    region = match.group(1) if match else "us-east-1"
    service = match.group(2).lower() if match else ""
    params: dict[str, str] = {}
    for key, values in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items():
        params[key] = values[0]
    content_type = environ.get("CONTENT_TYPE", "")
    if body and "x-www-form-urlencoded" in content_type:
        for key, values in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items():
            params[key] = values[0]
    action = params.get("Action", "")
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if not action and target:
        action = target.split(".")[-1]
    return service, region, action, params


# --------------------------------------------------------------------------------------
# Throttling (token buckets, /work/shared/aws-facts.md)
# --------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------
# Auto Scaling lifecycle actions
# --------------------------------------------------------------------------------------


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
            action["active"] = False
            COMPLETIONS.append(
                {
                    "groupName": action["groupName"],
                    "hookName": action["hookName"],
                    "instanceId": action["instanceId"],
                    "token": action["token"],
                    "result": action["defaultResult"],
                    "timedOut": True,
                    "at": now_iso(),
                }
            )


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
    action["active"] = False
    COMPLETIONS.append(
        {
            "groupName": action["groupName"],
            "hookName": action["hookName"],
            "instanceId": action["instanceId"],
            "token": action["token"],
            "result": result,
            "at": now_iso(),
        }
    )
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


# --------------------------------------------------------------------------------------
# Control API
# --------------------------------------------------------------------------------------


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
        for field in ("service", "action", "code"):
            if not isinstance(payload.get(field), str) or not payload[field]:
                return json_response(400, {"error": f"fault.{field} is required"})
        nth = int(payload.get("nth") or 1)
        times = int(payload.get("times") or 1)
        if nth < 1 or times < 1:
            return json_response(400, {"error": "nth and times must be >= 1"})
        FAULTS.append(
            {
                "service": payload["service"].lower(),
                "action": payload["action"],
                "nth": nth,
                "times": times,
                "code": payload["code"],
                "message": payload.get("message") or f"Injected fault: {payload['code']}",
                "status": int(payload.get("status") or 400),
                "seen": 0,
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
    if route == "/lifecycle/completions" and method == "GET":
        expire_lifecycle_actions()
        return json_response(200, COMPLETIONS)
    if route == "/lifecycle/heartbeats" and method == "GET":
        return json_response(200, HEARTBEATS)
    return json_response(404, {"error": f"unknown control route {method} {path}"})


# --------------------------------------------------------------------------------------
# WSGI middleware
# --------------------------------------------------------------------------------------


class NetkitMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        environ["wsgi.input"] = io.BytesIO(body)
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        with LOCK:
            tick()
            if path.startswith("/_netkit/"):
                return self._send(start_response, control(method, path, body))
            service, region, action, params = identify(environ, body)
            if service == "cloudformation":
                ensure_cloudformation_patches()
            if service and action:
                key = f"{service}:{action}"
                CALLS[key] = CALLS.get(key, 0) + 1
                fault = self._fault(service, action)
                if fault is not None:
                    return self._send(
                        start_response, error_response(service, fault["code"], fault["message"], fault["status"])
                    )
                throttled = throttle_check(service, region, action, params)
                if throttled is not None:
                    THROTTLED[key] = THROTTLED.get(key, 0) + 1
                    return self._send(start_response, throttled)
                handler = HANDLERS.get((service, action))
                if handler is not None:
                    return self._send(start_response, handler(params))
                if service == "cloudformation" and action == "DeleteStack":
                    answer = netkit_cfn.delete_stack(
                        DEFAULT_ACCOUNT_ID,
                        region,
                        params,
                        lambda code, message: error_response("cloudformation", code, message),
                        lambda: query_ok("cloudformation", "DeleteStack"),
                    )
                    if answer is not None:
                        return self._send(start_response, answer)
                tokened = ec2_contracts.client_token_response(
                    service, region, action, params, lambda: self._moto_response(environ), error_response
                )
                if tokened is not None:
                    return self._send(start_response, tokened)
            try:
                ecs_answer = netkit_ecs.intercept(service, region, action, body, lambda: self._moto_response(environ))
                if ecs_answer is not None:
                    return self._send(start_response, ecs_answer)
                with ec2_contracts.describe_lag(service, action, params):
                    return self._call_moto(environ, start_response)
            except Exception as exc:  # noqa: BLE001
                traceback.print_exc()
                return self._send(
                    start_response, error_response(service or "ec2", "InternalError", f"netkit/moto: {exc}", 500)
                )
            finally:
                tick()

    def _fault(self, service: str, action: str) -> dict[str, Any] | None:
        hit = None
        for fault in FAULTS:
            if fault["service"] == service and fault["action"] == action:
                fault["seen"] += 1
                if hit is None and fault["nth"] <= fault["seen"] < fault["nth"] + fault["times"]:
                    hit = fault
        return hit

    def _invoke_moto(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        """Runs moto's WSGI app once: its status line, headers and whole body."""
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
            captured["status"] = status
            captured["headers"] = headers
            return lambda _data: None

        result = self.app(environ, capture)
        try:
            chunks = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return captured["status"], captured["headers"], chunks

    def _moto_response(self, environ: dict[str, Any]) -> Response:
        """moto's answer as a Response tuple (for harness code that keeps or rewrites it)."""
        status, headers, chunks = self._invoke_moto(environ)
        kept = [(k, v) for k, v in headers if k.lower() != "content-length"]
        return int(str(status).split(" ", 1)[0]), kept, chunks

    def _call_moto(self, environ: dict[str, Any], start_response: Any) -> Any:
        status, headers, chunks = self._invoke_moto(environ)
        start_response(status, headers)
        return [chunks]

    @staticmethod
    def _send(start_response: Any, response: Response) -> list[bytes]:
        status, headers, body = response
        reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}
        headers = [*headers, ("Content-Length", str(len(body)))]
        start_response(f"{status} {reasons.get(status, 'Error')}", headers)
        return [body]


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: Any = "-", size: Any = "-") -> None:  # noqa: D401
        return


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="moto_server with netkit patches")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--settings", default="{}", help="JSON start settings (natDeleteDelayMs, throttle)")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="exit when stdin closes (the Node harness holds a pipe, so a killed parent never leaves an orphan)",
    )
    args = parser.parse_args(argv)
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            try:
                while sys.stdin.buffer.read(4096):
                    pass
            finally:
                os._exit(0)

        threading.Thread(target=watch_stdin, daemon=True).start()

    version = getattr(moto, "__version__", "unknown")
    if version != MOTO_REQUIRED:
        sys.stderr.write(f"netkit_moto: warning: moto {version} found, patches target {MOTO_REQUIRED}\n")

    START_SETTINGS.update(json.loads(args.settings))
    install_patches()
    SETTINGS.update(DEFAULT_SETTINGS)
    apply_settings(START_SETTINGS)
    # Warm the default backends so the first API call is not slowed by imports.
    _ = autoscaling_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]

    app = NetkitMiddleware(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=QuietHandler)
    host, port = server.server_address[:2]
    sys.stdout.write(f"NETKIT_MOTO_READY http://{host}:{port}\n")
    sys.stdout.flush()
    # The SAM translator takes seconds to import: load it while the first tests run.
    threading.Thread(target=warm_sam_translator, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
