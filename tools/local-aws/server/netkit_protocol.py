"""Protocol helpers: error and success bodies per service, and request identification.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

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
