"""EC2 patches: ENIs (attach limits and device indexes, detach, delete, DeleteOnTermination,
private DNS names), and unmapping an Elastic IP from an ENI that goes away.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import copy
from typing import Any

from moto.ec2.exceptions import InvalidNetworkAttachmentIdError
from moto.ec2.models import EC2Backend
from moto.ec2.models.instances import Instance
from moto.ec2.responses import EC2Response
from moto.ec2.utils import generate_dns_from_ip

import netkit_ec2_contracts as ec2_contracts
from netkit_state import DEFAULT_MAX_ENIS, EC2Error, MAX_ENIS

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
    ec2_contracts.note_attach(eni)
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
