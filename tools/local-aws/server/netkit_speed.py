"""Emulator speed: a small AMI catalogue, a direct tag lookup, and per-request dispatch work done once.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import os
from typing import Any

import moto.backends as moto_backends
import moto.core.responses as moto_responses
from moto import settings as moto_settings
from moto.core.utils import method_names_from_class
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


_orig_list_of_moto_modules = moto_backends.list_of_moto_modules
_moto_modules: tuple[str, ...] | None = None


def cached_list_of_moto_modules() -> tuple[str, ...]:
    """moto's service folder names, listed once.

    moto's server lists its package folder and stats every entry (~170) twice per request to route
    it, and the folder does not change while the emulator runs. Same names, in the same order.
    """
    global _moto_modules
    if _moto_modules is None:
        _moto_modules = tuple(_orig_list_of_moto_modules())
    return _moto_modules


_method_names: dict[type, tuple[tuple[int, ...], list[str]]] = {}


def cached_method_names(clazz: Any) -> list[str]:
    """A response class's method names, computed again only when a class in its MRO gains or loses
    an attribute (the harness patches some response classes, CloudFormation's on first use).

    moto runs inspect.getmembers over the whole response class (hundreds of methods) on every
    request to check that the action exists: about 7 ms each. Callers only test membership.
    """
    version = tuple(len(vars(c)) for c in clazz.__mro__)
    cached = _method_names.get(clazz)
    if cached is None or cached[0] != version:
        cached = (version, method_names_from_class(clazz))
        _method_names[clazz] = cached
    return cached[1]


def install_dispatch_caches() -> None:
    moto_backends.list_of_moto_modules = cached_list_of_moto_modules
    moto_responses.method_names_from_class = cached_method_names
