/** The endpoint stack, built here so the bundle carries it (README "Endpoint stack"). */
import type { Config } from './config.ts';

/** Output key prefix of the endpoint ids, read back to wait for `available`. */
export const ENDPOINT_OUTPUT_PREFIX = 'Endpoint';

export function endpointStackTemplate(spec: Config): string {
  const resources: Record<string, unknown> = {
    EndpointSecurityGroup: {
      Type: 'AWS::EC2::SecurityGroup',
      Properties: {
        GroupDescription: `HTTPS from the tasks to the interface endpoints of ${spec.stackName}`,
        VpcId: spec.vpcId,
        SecurityGroupIngress: spec.taskSecurityGroupIds.map((group) => ({
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          SourceSecurityGroupId: group,
          Description: 'HTTPS from the task security group',
        })),
        // Endpoints open no connections: the documented match-nothing rule replaces allow-all egress.
        SecurityGroupEgress: [
          { IpProtocol: 'icmp', FromPort: 252, ToPort: 86, CidrIp: '127.0.0.1/32', Description: 'no egress' },
        ],
      },
    },
  };
  const outputs: Record<string, unknown> = {};
  for (const service of spec.endpointServices) {
    const parts = service.split(/[.-]/);
    const name = parts.map((part) => part.charAt(0).toUpperCase() + part.slice(1)).join('');
    if (resources[`${name}Endpoint`]) throw new Error(`endpointStackTemplate: services collide on ${name}`);
    resources[`${name}Endpoint`] = {
      Type: 'AWS::EC2::VPCEndpoint',
      Properties: {
        VpcEndpointType: 'Interface',
        VpcId: spec.vpcId,
        ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, `.${service}`]] },
        SubnetIds: spec.endpointSubnetIds,
        SecurityGroupIds: [{ Ref: 'EndpointSecurityGroup' }],
        PrivateDnsEnabled: true,
      },
    };
    outputs[`${ENDPOINT_OUTPUT_PREFIX}${name}`] = {
      Description: `Interface endpoint for ${service}`,
      Value: { Ref: `${name}Endpoint` },
    };
  }
  return JSON.stringify({
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `netkit endpoint-lease: interface VPC endpoints for ${spec.stackName} (created and deleted on demand)`,
    Resources: resources,
    Outputs: outputs,
  });
}
