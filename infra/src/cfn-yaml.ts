// CloudFormation YAML: the `yaml` package with a schema for the short intrinsic-function tags
// (!Ref, !Sub, !GetAtt, !If, ...), turned into their long JSON form ({ Ref }, { 'Fn::Sub' }, ...)
// so the checks can walk templates as plain data.
import { readFileSync } from 'node:fs';
import { type CollectionTag, parseDocument, type ScalarTag, type YAMLMap, type YAMLSeq } from 'yaml';

export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Resource {
  Type: string;
  Properties?: JsonObject;
  Condition?: string;
  DependsOn?: Json;
  [key: string]: Json | undefined;
}

export interface Template {
  AWSTemplateFormatVersion?: string;
  Transform?: Json;
  Parameters?: Record<string, JsonObject>;
  Globals?: JsonObject;
  Conditions?: JsonObject;
  Resources: Record<string, Resource>;
  Outputs?: JsonObject;
}

/** Short tags that take the function name `Fn::<Name>`. */
const FN_TAGS = [
  'And',
  'Base64',
  'Cidr',
  'Equals',
  'FindInMap',
  'GetAZs',
  'If',
  'ImportValue',
  'Join',
  'Length',
  'Not',
  'Or',
  'Select',
  'Split',
  'Sub',
  'ToJsonString',
  'Transform',
] as const;

function fnKey(tag: string): string {
  if (tag === 'Ref' || tag === 'Condition') return tag;
  return `Fn::${tag}`;
}

function getAtt(value: Json): Json {
  if (typeof value !== 'string') return { 'Fn::GetAtt': value };
  const dot = value.indexOf('.');
  if (dot <= 0) return { 'Fn::GetAtt': value };
  return { 'Fn::GetAtt': [value.slice(0, dot), value.slice(dot + 1)] };
}

function tagsFor(name: string): Array<ScalarTag | CollectionTag> {
  const tag = `!${name}`;
  const wrap = (value: Json): Json => (name === 'GetAtt' ? getAtt(value) : { [fnKey(name)]: value });
  const scalar: ScalarTag = { tag, identify: () => false, resolve: (str: string) => wrap(str) };
  const seq: CollectionTag = {
    tag,
    collection: 'seq',
    identify: () => false,
    resolve: (node: YAMLSeq.Parsed | YAMLMap.Parsed) => wrap(node.toJSON() as Json),
  };
  const map: CollectionTag = {
    tag,
    collection: 'map',
    identify: () => false,
    resolve: (node: YAMLSeq.Parsed | YAMLMap.Parsed) => wrap(node.toJSON() as Json),
  };
  return [scalar, seq, map];
}

const CFN_TAGS: Array<ScalarTag | CollectionTag> = ['Ref', 'Condition', 'GetAtt', ...FN_TAGS].flatMap(
  tagsFor,
);

export class TemplateParseError extends Error {
  override readonly name = 'TemplateParseError';
}

/** Parses CloudFormation YAML (or JSON) text. Errors and unknown tags name the file and the line. */
export function parseTemplate(text: string, file = '<template>'): Template {
  const doc = parseDocument(text, { customTags: CFN_TAGS, uniqueKeys: true, prettyErrors: true });
  const problems = [...doc.errors, ...doc.warnings].map((e) => e.message.split('\n')[0]);
  if (problems.length > 0) throw new TemplateParseError(`${file}: ${problems.join('; ')}`);
  const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TemplateParseError(`${file}: a template must be a mapping`);
  }
  const template = value as Template;
  if (typeof template.Resources !== 'object' || template.Resources === null) {
    throw new TemplateParseError(`${file}: the template has no Resources section`);
  }
  return template;
}

export function loadTemplate(file: string): Template {
  return parseTemplate(readFileSync(file, 'utf8'), file);
}

export function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asList(value: Json | undefined): Json[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** The logical id a value refers to through `Ref` or `Fn::GetAtt`, if it does. */
export function referencedId(value: Json | undefined): string | undefined {
  if (!isObject(value)) return undefined;
  const ref = value['Ref'];
  if (typeof ref === 'string') return ref;
  const att = value['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string') return att[0];
  if (typeof att === 'string') return att.split('.')[0];
  return undefined;
}

export function usesSamTransform(template: Template): boolean {
  return asList(template.Transform).some((t) => t === 'AWS::Serverless-2016-10-31');
}
