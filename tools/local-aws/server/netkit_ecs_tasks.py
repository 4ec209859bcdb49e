"""ECS model patches for awsvpc tasks (ENIs, STOPPED tasks, ListTasks filters, Fargate sizes).

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

from typing import Any

from moto.ec2.utils import random_public_ip
from moto.ecs import models as ecs_models

from netkit_eni import _drop_eni

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
