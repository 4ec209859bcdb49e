#!/usr/bin/env python3
"""Translate SAM templates to plain CloudFormation with the SAM translator shipped with cfn-lint.

Usage: python3 sam_translate.py --code-uri s3://bucket/key [--region us-east-1] TEMPLATE...

Prints one JSON object on stdout: {"<template path>": <translated template>, ...}.
Local CodeUri values (e.g. ../../packages/<name>/dist) are replaced with --code-uri, because
the translator only accepts S3 locations (`sam deploy` / `aws cloudformation package` do the
same after uploading the bundle). A template that cannot be translated makes the script exit
with status 2 and a message naming the template and every cause.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

INSTALL_HINT = "pip install cfn-lint"

try:
    from cfnlint.data import Serverless
    from cfnlint.decode import decode
    from cfnlint.decode.utils import convert_dict
    from cfnlint.helpers import load_resource
    from samtranslator.parser import parser
    from samtranslator.public.exceptions import InvalidDocumentException
    from samtranslator.translator.translator import Translator
except ImportError as exc:  # pragma: no cover - exercised by the Node tests through the message
    sys.stderr.write(f"NETKIT_SAM_MISSING: cannot import cfn-lint / samtranslator ({exc}). Install: {INSTALL_HINT}\n")
    sys.exit(3)

logging.getLogger("samtranslator").setLevel(logging.CRITICAL)


def replace_code_uri(template: dict, code_uri: str) -> None:
    for resource in (template.get("Resources") or {}).values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties")
        if isinstance(props, dict) and props.get("PackageType") != "Image":
            props["CodeUri"] = code_uri
    function_globals = (template.get("Globals") or {}).get("Function")
    if isinstance(function_globals, dict) and "CodeUri" in function_globals:
        function_globals["CodeUri"] = code_uri


def translate(path: str, code_uri: str, policies: dict) -> dict:
    template, matches = decode(path)
    if matches or template is None:
        raise ValueError("; ".join(str(m) for m in matches) or "empty template")
    transforms = template.get("Transform") or []
    if "AWS::Serverless-2016-10-31" not in (transforms if isinstance(transforms, list) else [transforms]):
        return convert_dict(template)
    replace_code_uri(template, code_uri)
    translator = Translator(managed_policy_map=policies, sam_parser=parser.Parser())
    return convert_dict(translator.translate(sam_template=template, parameter_values={}, passthrough_metadata=False))


def main() -> None:
    args = argparse.ArgumentParser()
    args.add_argument("--code-uri", required=True)
    args.add_argument("--region", default="us-east-1")
    args.add_argument("templates", nargs="+")
    opts = args.parse_args()
    os.environ["AWS_DEFAULT_REGION"] = opts.region
    policies = load_resource(Serverless, "ManagedPolicies.json")
    out: dict[str, dict] = {}
    failures: list[str] = []
    for path in opts.templates:
        try:
            out[path] = translate(path, opts.code_uri, policies)
        except InvalidDocumentException as exc:
            failures.append(f"{path}: " + "; ".join(cause.message for cause in exc.causes))
        except Exception as exc:  # noqa: BLE001 - reported with the template name
            failures.append(f"{path}: {exc}")
    if failures:
        sys.stderr.write("SAM translation failed:\n" + "\n".join(failures) + "\n")
        sys.exit(2)
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
