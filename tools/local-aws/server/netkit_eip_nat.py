"""EC2 patches: Elastic IPs, NAT gateways (asynchronous deletion), internet gateways and VPC
endpoints.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import time
from typing import Any

from moto.ec2.exceptions import ResourceAlreadyAssociatedError
from moto.ec2.models import EC2Backend
from moto.ec2.utils import random_eip_association_id

import netkit_ec2_contracts as ec2_contracts
from netkit_eni import _drop_eni, _unmap_eip
from netkit_state import EC2Error, NAT_PENDING, SETTINGS

def _eip_private_ip(self: Any) -> Any:
    if not self.eni:
        return None
    return self.__dict__.get("_netkit_private_ip") or self.eni.private_ip_address


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
    ec2_contracts.note_associate(eip)
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
