"""EC2 contracts moto 5.2.1 lacks that the lifecycle-hook packages depend on.

Imported by netkit_moto.py; every function here runs under its global lock.

- ClientToken idempotency (CreateNetworkInterface): "Ensuring idempotency in Amazon EC2 API
  requests" (docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html): a retry with the
  same client token and the same parameters returns the first result, even if the resource was
  deleted since; the same token with other parameters fails IdempotentParameterMismatch. Tokens
  stay valid until reset (AWS: at least 24 hours).
- AssociateAddress by InstanceId (API reference, InstanceId: "The instance must have exactly one
  attached network interface"): see check_associate_by_instance.
- Eventual consistency ("Eventual consistency in the Amazon EC2 API",
  docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html): with describeLagMs > 0 a
  just-launched instance is hidden from DescribeInstances (InvalidInstanceID.NotFound by id,
  absent from filtered lists) and its interfaces from DescribeNetworkInterfaces filtered by
  attachment.instance-id for that long after RunInstances. Other calls (attach, associate, ...) see it at once.
- The same page, for a mutation: with attachLagMs > 0, for that long after AttachNetworkInterface
  DescribeNetworkInterfaces (by id or any filter) still shows the interface as it was before the
  attach (status available, no attachment); the attach itself has happened (a second attach fails
  InvalidNetworkInterface.InUse, a delete fails InvalidNetworkInterface.InUse). This is how the loser
  of a race between two deliveries of one event can miss the winner's attachment.
- Likewise associateLagMs > 0: for that long after AssociateAddress, DescribeAddresses shows the
  address unassociated (no instance, interface or association id); the association has happened
  (another AssociateAddress with AllowReassociation=false fails Resource.AlreadyAssociated).
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models import EC2Backend
from moto.ec2.models.instances import Instance

Response = tuple[int, list[tuple[str, str]], bytes]

# Create actions that honour ClientToken and that the packages call with one.
TOKEN_ACTIONS = {"CreateNetworkInterface"}
# Request parameters that are not part of the idempotent request's identity.
TOKEN_IGNORED_PARAMS = {"Action", "Version", "ClientToken"}
LAG_ACTIONS = {"DescribeInstances", "DescribeNetworkInterfaces"}

SETTINGS: dict[str, Any] = {"describeLagMs": 0.0, "attachLagMs": 0.0, "associateLagMs": 0.0}
# Interfaces attached less than attachLagMs ago: id -> (interface, monotonic time of the attach).
RECENT_ATTACHES: dict[str, tuple[Any, float]] = {}
# Addresses associated less than associateLagMs ago: allocation id or public IP -> (address, time).
RECENT_ASSOCIATIONS: dict[str, tuple[Any, float]] = {}
CLIENT_TOKENS: dict[tuple[str, str, str], dict[str, Any]] = {}  # (region, action, token) -> first result
_HIDING: dict[str, Any] = {"active": False, "filtered": False}


def apply_settings(settings: dict[str, Any]) -> None:
    if settings.get("describeLagMs") is not None:
        SETTINGS["describeLagMs"] = max(0.0, float(settings["describeLagMs"]))
    if settings.get("attachLagMs") is not None:
        SETTINGS["attachLagMs"] = max(0.0, float(settings["attachLagMs"]))
    if settings.get("associateLagMs") is not None:
        SETTINGS["associateLagMs"] = max(0.0, float(settings["associateLagMs"]))


def reset() -> None:
    CLIENT_TOKENS.clear()
    RECENT_ATTACHES.clear()
    RECENT_ASSOCIATIONS.clear()
    SETTINGS["describeLagMs"] = 0.0
    SETTINGS["attachLagMs"] = 0.0
    SETTINGS["associateLagMs"] = 0.0


# ---------------------------------------------------------------------------------------------
# ClientToken idempotency
# ---------------------------------------------------------------------------------------------


def client_token_response(
    service: str,
    region: str,
    action: str,
    params: dict[str, str],
    call_moto: Callable[[], Response],
    error_response: Callable[[str, str, str], Response],
) -> Response | None:
    """Answers a tokened create itself (first call: moto, remembered; retries: the first answer)."""
    if service != "ec2" or action not in TOKEN_ACTIONS or not params.get("ClientToken"):
        return None
    key = (region, action, params["ClientToken"])
    fingerprint = sorted((k, v) for k, v in params.items() if k not in TOKEN_IGNORED_PARAMS)
    first = CLIENT_TOKENS.get(key)
    if first is not None:
        if first["fingerprint"] != fingerprint:
            return error_response(
                "ec2",
                "IdempotentParameterMismatch",
                f"The client token '{params['ClientToken']}' was already used with different parameters.",
            )
        return first["response"]
    response = call_moto()
    if response[0] == 200:
        CLIENT_TOKENS[key] = {"fingerprint": fingerprint, "response": response}
    return response


# ---------------------------------------------------------------------------------------------
# AssociateAddress by InstanceId
# ---------------------------------------------------------------------------------------------


def check_associate_by_instance(instance: Any) -> None:
    """AssociateAddress with InstanceId needs exactly one attached interface (EC2 API reference)."""
    attached = [nic for nic in instance.nics.values() if nic.instance is instance]
    if len(attached) > 1:
        raise EC2ClientError(
            "InvalidInstanceID",
            f"There are multiple interfaces attached to instance '{instance.id}'. "
            "Please specify an interface ID for the operation instead.",
        )


# ---------------------------------------------------------------------------------------------
# Eventual consistency of Describe calls
# ---------------------------------------------------------------------------------------------


def note_attach(eni: Any) -> None:
    """AttachNetworkInterface succeeded: DescribeNetworkInterfaces shows it only attachLagMs later."""
    if SETTINGS["attachLagMs"] > 0:
        RECENT_ATTACHES[eni.id] = (eni, time.monotonic())


_ATTACH_FIELDS = ("instance", "attachment_id", "attach_time", "status", "device_index")


def note_associate(eip: Any) -> None:
    """AssociateAddress made a new association: DescribeAddresses shows it only associateLagMs later."""
    if SETTINGS["associateLagMs"] > 0:
        RECENT_ASSOCIATIONS[eip.allocation_id or eip.public_ip] = (eip, time.monotonic())


@contextmanager
def _associate_lag(service: str, action: str) -> Iterator[None]:
    """While DescribeAddresses runs, show addresses associated less than associateLagMs ago unassociated."""
    if service != "ec2" or action != "DescribeAddresses" or not RECENT_ASSOCIATIONS:
        yield
        return
    now = time.monotonic()
    saved: list[tuple[Any, Any, Any, Any, Any]] = []
    for key, (eip, associated) in list(RECENT_ASSOCIATIONS.items()):
        if (now - associated) * 1000.0 >= SETTINGS["associateLagMs"]:
            del RECENT_ASSOCIATIONS[key]
            continue
        if eip.eni is None:
            continue  # disassociated since: nothing to hide
        saved.append((eip, eip.eni, eip.instance, eip.association_id, eip.__dict__.get("_netkit_private_ip")))
        eip.eni, eip.instance, eip.association_id = None, None, None
        eip.__dict__.pop("_netkit_private_ip", None)
    try:
        yield
    finally:
        for eip, eni, instance, association_id, private_ip in saved:
            eip.eni, eip.instance, eip.association_id = eni, instance, association_id
            if private_ip is not None:
                eip.__dict__["_netkit_private_ip"] = private_ip


@contextmanager
def _attach_lag(service: str, action: str) -> Iterator[None]:
    """While DescribeNetworkInterfaces runs, show interfaces attached less than attachLagMs ago as before the attach."""
    if service != "ec2" or action != "DescribeNetworkInterfaces" or not RECENT_ATTACHES:
        yield
        return
    now = time.monotonic()
    saved: list[tuple[Any, tuple[Any, ...]]] = []
    for eni_id, (eni, attached) in list(RECENT_ATTACHES.items()):
        if (now - attached) * 1000.0 >= SETTINGS["attachLagMs"]:
            del RECENT_ATTACHES[eni_id]
            continue
        if eni.instance is None:
            continue  # detached (or its instance ended) since: nothing to hide
        saved.append((eni, tuple(getattr(eni, f) for f in _ATTACH_FIELDS)))
        eni.instance, eni.attachment_id, eni.attach_time, eni.status, eni.device_index = (
            None,
            None,
            None,
            "available",
            None,
        )
    try:
        yield
    finally:
        for eni, values in saved:
            for field, value in zip(_ATTACH_FIELDS, values):
                setattr(eni, field, value)


@contextmanager
def describe_lag(service: str, action: str, params: dict[str, str]) -> Iterator[None]:
    """While a Describe call of LAG_ACTIONS runs, hide instances launched less than describeLagMs ago
    and attachments made less than attachLagMs ago."""
    with _attach_lag(service, action), _associate_lag(service, action):
        with _launch_lag(service, action, params):
            yield


@contextmanager
def _launch_lag(service: str, action: str, params: dict[str, str]) -> Iterator[None]:
    if service != "ec2" or action not in LAG_ACTIONS or SETTINGS["describeLagMs"] <= 0:
        yield
        return
    _HIDING["active"] = True
    # DescribeNetworkInterfaces lags for requests that ask by instance (attachment.instance-id);
    # interfaces that existed before the launch stay listed by their other attributes.
    _HIDING["filtered"] = any(
        k.startswith("Filter.") and k.endswith(".Name") and v == "attachment.instance-id" for k, v in params.items()
    )
    try:
        yield
    finally:
        _HIDING["active"] = False
        _HIDING["filtered"] = False


def _hidden(instance: Any) -> bool:
    launched = instance.__dict__.get("_netkit_launched")
    if launched is None:
        return False
    return (time.monotonic() - launched) * 1000.0 < SETTINGS["describeLagMs"]


_orig_instance_init = Instance.__init__
_orig_all_reservations = EC2Backend.all_reservations
_orig_get_all_network_interfaces = EC2Backend.get_all_network_interfaces


def _instance_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _orig_instance_init(self, *args, **kwargs)
    self.__dict__["_netkit_launched"] = time.monotonic()


def _all_reservations(self: Any, filters: Any = None) -> Any:
    reservations = _orig_all_reservations(self, filters)
    if not _HIDING["active"]:
        return reservations
    visible = []
    for reservation in reservations:
        instances = [i for i in reservation.instances if not _hidden(i)]
        if instances:
            reservation.instances = instances
            visible.append(reservation)
    return visible


def _get_all_network_interfaces(self: Any, eni_ids: Any = None, filters: Any = None) -> Any:
    enis = _orig_get_all_network_interfaces(self, eni_ids, filters)
    if not _HIDING["active"] or eni_ids or not _HIDING["filtered"]:
        return enis
    return [eni for eni in enis if eni.instance is None or not _hidden(eni.instance)]


def install() -> None:
    Instance.__init__ = _instance_init
    EC2Backend.all_reservations = _all_reservations
    EC2Backend.get_all_network_interfaces = _get_all_network_interfaces
