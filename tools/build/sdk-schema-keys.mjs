// esbuild plugin: lets the AWS SDK's schema modules tree-shake.
//
// Each SDK v3 client ships one `schemas/schemas_0.js` holding every shape of the
// service (540 KiB minified for EC2). Shapes are plain array literals, which
// esbuild drops when unused, except that many carry trait objects with computed
// keys such as `{ [_xN]: _TSa }`. A computed key may run code (toString), so
// esbuild keeps every statement that has one, and everything it references: the
// whole file. The keys are module-level string constants (`const _xN = "xmlName";`),
// so replacing `[_xN]:` with `"xmlName":` is an exact rewrite that lets the
// unused shapes go.
import { readFile } from 'node:fs/promises';

const SCHEMA_FILE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_\d+\.js$/;

/** Rewrite computed keys that name module-level string constants into literal keys. */
export function inlineConstantKeys(source) {
  const constants = new Map();
  for (const match of source.matchAll(/^const (_\w+) = ("(?:[^"\\]|\\.)*");$/gm)) {
    constants.set(match[1], match[2]);
  }
  let replaced = 0;
  const code = source.replace(/\[(_\w+)\]:/g, (whole, name) => {
    const literal = constants.get(name);
    if (literal === undefined) return whole;
    replaced++;
    return `${literal}:`;
  });
  return { code, replaced };
}

export const sdkSchemaKeys = {
  name: 'sdk-schema-keys',
  setup(build) {
    build.onLoad({ filter: SCHEMA_FILE }, async (args) => {
      const { code } = inlineConstantKeys(await readFile(args.path, 'utf8'));
      return { contents: code, loader: 'js' };
    });
  },
};
