// Operability checks on a package template (plain CloudFormation, after the SAM translation): every
// Lambda function has an Errors alarm, every SQS queue (the dead-letter / on-failure queues) has a
// "not empty" alarm, the package's own metrics are alarmed on (pool free count, abandoned launches,
// endpoint stack DELETE_FAILED), every alarm notifies the optional AlarmTopicArn, and there is a
// dashboard. Example stacks (infra/examples) are not package templates and are not checked here.
import { asList, isObject, type Json, type JsonObject, referencedId, type Template } from '../cfn-yaml.ts';
import type { Finding } from './findings.ts';

/** The namespace the packages publish their EMF metrics in (aws-core METRICS_NAMESPACE). */
export const PACKAGE_NAMESPACE = 'Netkit';

/** Metrics each package emits that must have an alarm (names as the code emits them). */
export const REQUIRED_METRIC_ALARMS: Readonly<Record<string, readonly string[]>> = {
  'eip-associator': ['PoolFree', 'LaunchesAbandoned'],
  'eni-pool-agent': ['PoolFree', 'LaunchesAbandoned'],
  'eni-attach': ['LaunchesAbandoned'],
  'endpoint-lease': ['EndpointStackDeleteFailed', 'EndpointStackResourcesRetained'],
  'nat-reaper': [],
};

/**
 * The dimensions every metric of a package carries: `service`, and in the lifecycle-hook packages
 * the runner's AutoScalingGroupName (aws-core lifecycle-hook.ts). An alarm must select exactly these.
 */
export const METRIC_DIMENSIONS: Readonly<Record<string, readonly string[]>> = {
  'eip-associator': ['service', 'AutoScalingGroupName'],
  'eni-pool-agent': ['service', 'AutoScalingGroupName'],
  'eni-attach': ['service', 'AutoScalingGroupName'],
  'endpoint-lease': ['service'],
  'nat-reaper': ['service'],
};

export const ALARM_TOPIC_PARAMETER = 'AlarmTopicArn';

interface Alarm {
  id: string;
  props: JsonObject;
}

function dimensionTarget(props: JsonObject, name: string): string | undefined {
  for (const d of asList(props['Dimensions'])) {
    if (isObject(d) && d['Name'] === name) return referencedId(d['Value']);
  }
  return undefined;
}

function mentionsParameter(value: Json | undefined, parameter: string): boolean {
  return JSON.stringify(value ?? null).includes(`{"Ref":"${parameter}"}`);
}

function checkPackageMetricAlarms(
  alarms: Alarm[],
  packageName: string,
  add: (resource: string, message: string) => void,
): void {
  const required = REQUIRED_METRIC_ALARMS[packageName];
  if (required === undefined) {
    add(
      'Template',
      `no alarm requirements known for package '${packageName}' (add it to REQUIRED_METRIC_ALARMS)`,
    );
  }
  for (const metric of required ?? []) {
    const found = alarms.some(
      (a) => a.props['Namespace'] === PACKAGE_NAMESPACE && a.props['MetricName'] === metric,
    );
    if (!found) add('Template', `no alarm on the package metric ${PACKAGE_NAMESPACE}/${metric}`);
  }
  const expected = [...(METRIC_DIMENSIONS[packageName] ?? [])].sort().join(', ');
  for (const alarm of alarms.filter((a) => a.props['Namespace'] === PACKAGE_NAMESPACE)) {
    const names = asList(alarm.props['Dimensions']).map((d) => (isObject(d) ? d['Name'] : d));
    const selected = names.map(String).sort().join(', ');
    if (selected !== expected)
      add(
        alarm.id,
        `selects dimensions [${selected}], but the package's metrics carry [${expected}]: it never fires`,
      );
  }
}

export function checkAlarms(template: Template, file: string, packageName?: string): Finding[] {
  const findings: Finding[] = [];
  const add = (resource: string, message: string): void => {
    findings.push({ file, resource, message });
  };
  const resources = Object.entries(template.Resources);
  const alarms: Alarm[] = resources
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
    .map(([id, r]) => ({ id, props: r.Properties ?? {} }));

  for (const [id, resource] of resources) {
    if (resource.Type === 'AWS::Lambda::Function') {
      const found = alarms.some(
        (a) =>
          a.props['Namespace'] === 'AWS/Lambda' &&
          a.props['MetricName'] === 'Errors' &&
          dimensionTarget(a.props, 'FunctionName') === id,
      );
      if (!found) add(id, 'no alarm on its Errors metric (AWS/Lambda Errors, dimension FunctionName)');
    } else if (resource.Type === 'AWS::SQS::Queue') {
      const found = alarms.some(
        (a) =>
          a.props['Namespace'] === 'AWS/SQS' &&
          a.props['MetricName'] === 'ApproximateNumberOfMessagesVisible' &&
          dimensionTarget(a.props, 'QueueName') === id,
      );
      if (!found) {
        add(
          id,
          'no "queue not empty" alarm (AWS/SQS ApproximateNumberOfMessagesVisible, dimension QueueName)',
        );
      }
    }
  }

  if (packageName !== undefined) checkPackageMetricAlarms(alarms, packageName, add);

  if (template.Parameters?.[ALARM_TOPIC_PARAMETER] === undefined) {
    add('Template', `no ${ALARM_TOPIC_PARAMETER} parameter (the optional SNS topic the alarms notify)`);
  }
  for (const alarm of alarms) {
    if (!mentionsParameter(alarm.props['AlarmActions'], ALARM_TOPIC_PARAMETER)) {
      add(alarm.id, `AlarmActions does not notify ${ALARM_TOPIC_PARAMETER}`);
    }
  }
  if (
    resources.some(([, r]) => r.Type === 'AWS::Lambda::Function') &&
    !resources.some(([, r]) => r.Type === 'AWS::CloudWatch::Dashboard')
  ) {
    add('Template', 'no AWS::CloudWatch::Dashboard');
  }
  return findings;
}
