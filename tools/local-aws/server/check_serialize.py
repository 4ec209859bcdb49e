"""Proves netkit_serialize changes no byte of a response.

Builds a small world with moto in-process (VPC, subnets in two AZs, tagged ENIs, instances with
and without extra interfaces, an Elastic IP, a NAT gateway, an internet gateway, a route table,
a VPC endpoint, an Auto Scaling group with a lifecycle hook, a CloudFormation stack, an ECS
cluster), then makes every Describe the
packages and tests use twice: with moto's own serializer and with the memoised one. The bodies
must be equal byte for byte (the request id aside). Prints one line per call and exits 1 on the
first difference, with both bodies.

`--self-test` also runs a getter that is wrong for one key and a writer that escapes one character
less, and expects the check to catch each, so the check itself cannot pass for nothing.

Run: python3 tools/local-aws/server/check_serialize.py [--self-test] (tools/local-aws/test/serialize.test.ts runs it)
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

import boto3  # noqa: E402
from moto import mock_aws  # noqa: E402
from moto.core import serialize as moto_serialize  # noqa: E402

import netkit_moto  # noqa: E402
import netkit_serialize  # noqa: E402

REGION = "ap-northeast-1"
REQUEST_ID = re.compile(rb"<(requestId|RequestId)>[^<]*</(requestId|RequestId)>")


def build_world(ec2: Any, autoscaling: Any, cloudformation: Any, ecs: Any) -> dict[str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate(["a", "c"])
    ]
    pool_tags = [
        {"Key": "netkit:pool", "Value": "web"},
        {"Key": "netkit:hostname", "Value": "web-1"},
        # Text the XML writer must escape as xmltodict does.
        {"Key": "note", "Value": "a&b <c> \"d\" 'e'\n\tf"},
    ]
    enis = [
        ec2.create_network_interface(
            SubnetId=subnet,
            Description="pool & <friends>",
            TagSpecifications=[{"ResourceType": "network-interface", "Tags": pool_tags}],
        )["NetworkInterface"]["NetworkInterfaceId"]
        for subnet in subnets
        for _ in range(2)
    ]
    instances = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId="ami-03cf127a",
            MinCount=2,
            MaxCount=2,
            SubnetId=subnets[0],
            InstanceType="t3.micro",
            TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "app", "Value": "web"}]}],
        )["Instances"]
    ]
    ec2.attach_network_interface(NetworkInterfaceId=enis[0], InstanceId=instances[0], DeviceIndex=1)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    allocation = ec2.allocate_address(
        Domain="vpc", TagSpecifications=[{"ResourceType": "elastic-ip", "Tags": [{"Key": "pool", "Value": "a"}]}]
    )["AllocationId"]
    ec2.associate_address(AllocationId=allocation, InstanceId=instances[1])
    nat_eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnets[1], AllocationId=nat_eip)["NatGateway"]["NatGatewayId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnets[0])
    group = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.ecr.dkr",
        VpcEndpointType="Interface",
        SubnetIds=subnets,
        SecurityGroupIds=[group],
    )
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId="ami-03cf127a", InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchConfigurationName="lc",
        MinSize=1,
        MaxSize=2,
        DesiredCapacity=1,
        VPCZoneIdentifier=",".join(subnets),
    )
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName="web",
        LifecycleHookName="launch",
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
    )
    cloudformation.create_stack(
        StackName="endpoints",
        TemplateBody='{"Resources": {"Group": {"Type": "AWS::EC2::SecurityGroup", "Properties": '
        '{"GroupDescription": "endpoints", "VpcId": "%s"}}}, "Outputs": {"Group": {"Value": {"Ref": "Group"}}}}' % vpc,
        Tags=[{"Key": "netkit:lease", "Value": "web"}],
    )
    ecs.create_cluster(clusterName="tasks")
    return {"vpc": vpc, "instance": instances[0], "eni": enis[0]}


def calls(
    ec2: Any, autoscaling: Any, cloudformation: Any, ecs: Any, world: dict[str, str]
) -> list[tuple[str, Callable[[], Any]]]:
    pool_filter = [{"Name": "tag:netkit:pool", "Values": ["web"]}, {"Name": "availability-zone", "Values": [f"{REGION}a"]}]
    return [
        ("DescribeInstances", lambda: ec2.describe_instances()),
        ("DescribeInstances (filtered)", lambda: ec2.describe_instances(Filters=[{"Name": "tag:app", "Values": ["web"]}])),
        ("DescribeInstances (one)", lambda: ec2.describe_instances(InstanceIds=[world["instance"]])),
        ("DescribeNetworkInterfaces", lambda: ec2.describe_network_interfaces(Filters=pool_filter)),
        ("DescribeNetworkInterfaces (one)", lambda: ec2.describe_network_interfaces(NetworkInterfaceIds=[world["eni"]])),
        ("DescribeAddresses", lambda: ec2.describe_addresses()),
        ("DescribeNatGateways", lambda: ec2.describe_nat_gateways()),
        ("DescribeInternetGateways", lambda: ec2.describe_internet_gateways()),
        ("DescribeRouteTables", lambda: ec2.describe_route_tables()),
        ("DescribeSubnets", lambda: ec2.describe_subnets()),
        ("DescribeVpcEndpoints", lambda: ec2.describe_vpc_endpoints()),
        ("DescribeSecurityGroups", lambda: ec2.describe_security_groups()),
        ("DescribeTags", lambda: ec2.describe_tags()),
        ("DescribeAutoScalingGroups", lambda: autoscaling.describe_auto_scaling_groups()),
        ("DescribeAutoScalingInstances", lambda: autoscaling.describe_auto_scaling_instances()),
        ("DescribeLifecycleHooks", lambda: autoscaling.describe_lifecycle_hooks(AutoScalingGroupName="web")),
        ("DescribeInstances (missing id)", lambda: ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"])),
        ("DescribeStacks", lambda: cloudformation.describe_stacks(StackName="endpoints")),
        ("DescribeStackResources", lambda: cloudformation.describe_stack_resources(StackName="endpoints")),
        ("DescribeStacks (missing)", lambda: cloudformation.describe_stacks(StackName="missing")),
        ("DescribeClusters", lambda: ecs.describe_clusters(clusters=["tasks"])),
        ("ListTasks", lambda: ecs.list_tasks(cluster="tasks")),
    ]


def body_of(client_call: Callable[[], Any], sink: list[bytes]) -> bytes:
    sink.clear()
    try:
        client_call()
    except Exception:  # noqa: BLE001  (an error response is compared like any other)
        pass
    if not sink:
        raise RuntimeError("no response captured")
    return REQUEST_ID.sub(b"<requestId/>", sink[-1])


def wrong_get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
    """A memoised getter with a defect: the private IP of every interface is dropped."""
    if key == "PrivateIpAddress":
        return None
    return netkit_serialize.memoised_get_value(self, value, key, shape)


def wrong_ec2_body(self: Any, body: Any) -> str:
    """The fast XML writer with a defect: `>` left unescaped in text."""
    return netkit_serialize.fast_ec2_body(self, body).replace("&gt;", ">")


DEFECTS: dict[str, Callable[[], None]] = {
    "getter drops PrivateIpAddress": lambda: setattr(
        moto_serialize.ResponseSerializer, "get_value", wrong_get_value
    ),
    "writer leaves > unescaped": lambda: (
        netkit_serialize.install(),
        setattr(moto_serialize.EC2Serializer, "_serialize_body", wrong_ec2_body),
    )
    and None,
}


def compare(candidates: dict[str, Callable[[], None]]) -> dict[str, list[str]]:
    """For each candidate serializer, the names of the calls whose bodies differ from moto's."""
    differing: dict[str, list[str]] = {name: [] for name in candidates}
    with mock_aws():
        ec2 = boto3.client("ec2", region_name=REGION)
        autoscaling = boto3.client("autoscaling", region_name=REGION)
        cloudformation = boto3.client("cloudformation", region_name=REGION)
        ecs = boto3.client("ecs", region_name=REGION)
        sink: list[bytes] = []
        for client in (ec2, autoscaling, cloudformation, ecs):
            client.meta.events.register("after-call", lambda http_response, **_: sink.append(http_response.content))
        world = build_world(ec2, autoscaling, cloudformation, ecs)
        for name, call in calls(ec2, autoscaling, cloudformation, ecs, world):
            netkit_serialize.uninstall()
            expected = body_of(call, sink)
            for candidate, install_candidate in candidates.items():
                install_candidate()
                actual = body_of(call, sink)
                netkit_serialize.uninstall()
                if actual != expected:
                    differing[candidate].append(name)
                if candidate == FAST:
                    print(f"{'same' if actual == expected else 'DIFFERENT'} {name} ({len(expected)} bytes)")
                    if actual != expected:
                        print(f"--- moto\n{expected.decode()}\n--- fast\n{actual.decode()}")
    return differing


FAST = "netkit_serialize"


def main() -> int:
    netkit_moto.install_patches()
    self_test = "--self-test" in sys.argv
    differing = compare({FAST: netkit_serialize.install, **(DEFECTS if self_test else {})})
    failed = bool(differing[FAST])
    print("all responses identical" if not failed else f"{len(differing[FAST])} responses differ")
    for defect in DEFECTS if self_test else []:
        if differing[defect]:
            print(f"self-test ok: '{defect}' shows in {len(differing[defect])} responses")
        else:
            print(f"self-test FAILED: '{defect}' was not caught")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
