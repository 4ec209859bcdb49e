"""Emulator speed: a small AMI catalogue and a direct tag lookup.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import os
from typing import Any

from moto import settings as moto_settings
from moto.ec2.models.amis import AMIS, Ami, AmiBackend, parse_timestamp
from moto.ec2.utils import EC2_PREFIX_TO_RESOURCE, get_prefix

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
