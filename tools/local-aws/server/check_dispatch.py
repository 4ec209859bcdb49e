"""Checks netkit_speed's dispatch caches against moto's own functions.

moto routes every request by its service folder names and checks the action against the response
class's method names. The caches must give the same answers, and a method the harness adds to a
response class after the first request must still be found.

Run: python3 tools/local-aws/server/check_dispatch.py (tools/local-aws/test/dispatch.test.ts runs it)
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import moto.backends as moto_backends  # noqa: E402
import moto.core.responses as moto_responses  # noqa: E402
import netkit_speed  # noqa: E402
from moto.autoscaling.responses import AutoScalingResponse  # noqa: E402
from moto.core.utils import method_names_from_class  # noqa: E402
from moto.ec2.responses import EC2Response  # noqa: E402


def main() -> int:
    problems: list[str] = []
    modules = list(moto_backends.list_of_moto_modules())
    netkit_speed.install_dispatch_caches()
    if list(moto_backends.list_of_moto_modules()) != modules:
        problems.append("service folder names differ from moto's listing")
    for clazz in (EC2Response, AutoScalingResponse):
        for _ in range(2):  # computed, then from the cache
            if moto_responses.method_names_from_class(clazz) != method_names_from_class(clazz):
                problems.append(f"{clazz.__name__}: method names differ from moto's")

    class Patched(EC2Response):
        pass

    before = moto_responses.method_names_from_class(Patched)
    Patched.netkit_added_action = lambda self: None  # type: ignore[attr-defined]
    after = moto_responses.method_names_from_class(Patched)
    if "netkit_added_action" in before or "netkit_added_action" not in after:
        problems.append("a method added after the first lookup is not seen")
    EC2Response.netkit_added_to_base = lambda self: None  # type: ignore[attr-defined]
    if "netkit_added_to_base" not in moto_responses.method_names_from_class(Patched):
        problems.append("a method added to a base class after the first lookup is not seen")
    del EC2Response.netkit_added_to_base  # type: ignore[attr-defined]
    if "netkit_added_to_base" in moto_responses.method_names_from_class(Patched):
        problems.append("a method removed from a base class is still listed")

    for problem in problems:
        print(f"FAILED: {problem}")
    print("dispatch caches ok" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
