"""CloudFormation: the AWS::Serverless-2016-10-31 transform, expanded at CreateChangeSet.

Part of the netkit moto harness; netkit_moto.py is the entry and installs every patch."""

from __future__ import annotations

import copy
import json
import os
import threading
from typing import Any

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
