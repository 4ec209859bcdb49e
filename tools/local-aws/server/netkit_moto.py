#!/usr/bin/env python3
"""moto_server plus the AWS behaviours moto 5.2.1 lacks, for the netkit test harness.

Usage: python3 netkit_moto.py --host 127.0.0.1 --port 0 [--settings JSON]

Prints ``NETKIT_MOTO_READY http://HOST:PORT`` on stdout once the socket accepts
connections. Every API request is handled under one global lock, so each call is
atomic (moto's state is not thread safe, and AWS attach/associate calls are atomic
claims). See ../README.md for the list of patches and the control API.

This file is the entry: it checks moto, installs every patch and serves. One module per concern:
  netkit_state.py          harness state and settings (LOCK, counters, instance ENI limits)
  netkit_protocol.py       error/success bodies per service, request identification
  netkit_throttle.py       token-bucket throttling
  netkit_lifecycle.py      Auto Scaling lifecycle actions (tokens, timeouts, heartbeats)
  netkit_control.py        the /_netkit/ control API
  netkit_eni.py            ENI patches
  netkit_eip_nat.py        Elastic IP, NAT gateway, internet gateway, VPC endpoint patches
  netkit_ec2_contracts.py  ClientToken idempotency, multi-ENI associate, describe lag
  netkit_ecs.py            ECS RunTask clientToken and capacity failures
  netkit_ecs_tasks.py      ECS task model patches (awsvpc ENIs, STOPPED tasks)
  netkit_cfn.py            CloudFormation DeleteStack failures, reads of stacks with gaps
  netkit_sam.py            the AWS::Serverless-2016-10-31 transform at CreateChangeSet
  netkit_iam.py            IAM evaluation of calls signed with a registered function's key
  netkit_iam_resources.py  the ARNs and condition keys each action is authorized against
  netkit_iam_template.py   a function's policies from its SAM template
  netkit_speed.py          a small AMI catalogue, direct tag lookup, dispatch caches
  netkit_serialize.py      a byte-identical faster response serializer
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import struct
import sys
import threading
import traceback
from typing import Any, Callable

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
from moto.ec2.models import EC2Backend  # noqa: E402
from moto.ec2.models.amis import AmiBackend  # noqa: E402
from moto.ec2.models.core import TaggedEC2Resource  # noqa: E402
from moto.ec2.models.elastic_ip_addresses import ElasticAddress  # noqa: E402
from moto.ec2.models.elastic_network_interfaces import NetworkInterface  # noqa: E402
from moto.ec2.models.instances import Instance  # noqa: E402
from moto.ec2.models.vpcs import VPCEndPoint  # noqa: E402
from moto.ec2.responses import EC2Response  # noqa: E402
from moto.ecs import models as ecs_models  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netkit_cfn  # noqa: E402
import netkit_ec2_contracts as ec2_contracts  # noqa: E402
import netkit_ecs  # noqa: E402
import netkit_iam  # noqa: E402
import netkit_iam_resources  # noqa: E402
import netkit_serialize  # noqa: E402
from netkit_control import control  # noqa: E402
from netkit_ecs_tasks import (  # noqa: E402
    patched_list_tasks,
    patched_stop_task,
    patched_task_init,
    patched_task_resource_requirements,
)
from netkit_eip_nat import (  # noqa: E402
    _eip_private_ip,
    patched_associate_address,
    patched_associate_address_response,
    patched_create_nat_gateway,
    patched_create_vpc_endpoint,
    patched_delete_nat_gateway,
    patched_detach_internet_gateway,
    patched_disassociate_address,
    patched_release_address,
    tick,
    vpc_endpoint_delete,
)
from netkit_eni import (  # noqa: E402
    _eni_private_dns_get,
    _eni_private_dns_set,
    patched_attach_network_interface,
    patched_delete_network_interface,
    patched_detach_network_interface,
    patched_modify_eni_attr_response,
    patched_prep_nics,
    patched_terminate,
)
from netkit_lifecycle import HANDLERS  # noqa: E402
from netkit_protocol import Response, error_response, identify, query_ok  # noqa: E402
from netkit_sam import ensure_cloudformation_patches, warm_sam_translator  # noqa: E402
from netkit_speed import fast_get_tags, install_dispatch_caches, patched_load_amis  # noqa: E402
from netkit_state import (  # noqa: E402
    CALLS,
    DEFAULT_SETTINGS,
    FAULTS,
    LOCK,
    SETTINGS,
    START_SETTINGS,
    THROTTLED,
    apply_settings,
)
from netkit_throttle import throttle_check  # noqa: E402


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
    netkit_cfn.install()
    netkit_serialize.install()
    install_dispatch_caches()
    ecs_models.Task.__init__ = patched_task_init
    ecs_models.EC2ContainerServiceBackend.stop_task = patched_stop_task
    ecs_models.EC2ContainerServiceBackend.list_tasks = patched_list_tasks
    ecs_models.EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(
        patched_task_resource_requirements
    )


# --------------------------------------------------------------------------------------
# WSGI middleware
# --------------------------------------------------------------------------------------


class NetkitMiddleware:
    def __init__(self, app: Any) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        result = self._serve(environ, start_response)
        if environ.get("netkit.reset") == "after":
            _drop_connection(environ)  # AWS acted; the caller never hears the answer
        return result

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Any:
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
                try:
                    refused = netkit_iam.gate(environ, service, region, action, params, body)
                except (netkit_iam_resources.UnmodelledAuthorization, KeyError, OSError) as exc:
                    # A gap in the model (or the reference data missing) is never a silent allow.
                    refused = error_response(service, "InternalError", f"netkit/iam: {exc}", 500)
                if refused is not None:
                    return self._send(start_response, refused)
                fault = self._fault(service, action)
                if fault is not None and fault["reset"] == "after":
                    environ["netkit.reset"] = "after"
                elif fault is not None:
                    if fault["reset"] == "before":
                        _drop_connection(environ)
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
            if fault["service"] == service and fault["action"] in (action, "*"):
                fault["seen"] += 1
                if fault.get("rate") is not None:
                    # A faulted run: from the nth call on, each call fails with this probability (seeded).
                    if fault["seen"] >= fault["nth"] and fault["random"].random() < fault["rate"] and hit is None:
                        hit = fault
                elif hit is None and fault["nth"] <= fault["seen"] < fault["nth"] + fault["times"]:
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
        reasons = {200: "OK", 400: "Bad Request", 403: "Forbidden", 404: "Not Found", 500: "Internal Server Error", 503: "Service Unavailable"}
        headers = [*headers, ("Content-Length", str(len(body)))]
        start_response(f"{status} {reasons.get(status, 'Error')}", headers)
        return [body]


def _drop_connection(environ: dict[str, Any]) -> None:
    """Resets the client's connection with no answer (werkzeug treats ConnectionError as a dropped client)."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("netkit: injected connection reset")


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
