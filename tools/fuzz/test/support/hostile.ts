// Generators of hostile input shared by the fuzz files: invisible and bidirectional characters,
// strings over a length limit, look-alike response hosts, and an oracle for Fargate's task sizes.
import fc from 'fast-check';

/**
 * Characters a reader cannot see or that reorder the text around them: zero-width space, joiners,
 * bidirectional embeddings, overrides and isolates, the byte order mark, line and paragraph
 * separators, C1 controls and a tag character.
 */
export const hiddenChar = fc.constantFrom(
  '\u200B',
  '\u200C',
  '\u200D',
  '\u200E',
  '\u200F',
  '\u202A',
  '\u202B',
  '\u202C',
  '\u202D',
  '\u202E',
  '\u2066',
  '\u2067',
  '\u2068',
  '\u2069',
  '\u2060',
  '\uFEFF',
  '\u2028',
  '\u2029',
  '\u0085',
  '\u007F',
  '\u{E0041}',
);

/** A raw hidden character anywhere in `text` (what an honest log line or reason never holds). */
export const HIDDEN_RAW = /[\p{Cf}\u2028\u2029\u0080-\u009F\u007F]/u;

/** `valid` with one to three hidden characters inserted at generated positions. */
export function withHidden(valid: string): fc.Arbitrary<string> {
  return fc
    .array(fc.tuple(fc.nat({ max: valid.length }), hiddenChar), { minLength: 1, maxLength: 3 })
    .map((inserts) => {
      let text = valid;
      for (const [at, char] of inserts) {
        const i = Math.min(at, text.length);
        text = text.slice(0, i) + char + text.slice(i);
      }
      return text;
    });
}

/** A string of `unit` characters, from `min` to `max` long (over a limit when `min` is past it). */
export function longString(unit: string, min: number, max: number): fc.Arbitrary<string> {
  return fc.integer({ min, max }).map((n) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n));
}

const BUCKET = 'cloudformation-custom-resource-response-useast1';

/**
 * https ResponseURLs that are not CloudFormation's response bucket on S3: other sites, look-alike
 * hosts that contain or end like an S3 name, S3 hosts of other buckets, metadata and credential
 * addresses, other ports.
 */
export const lookAlikeResponseUrl: fc.Arbitrary<string> = fc.oneof(
  fc.domain().map((d) => `https://${d}/cfn-response?X-Amz-Signature=abc`),
  fc.domain().map((d) => `https://${BUCKET}.s3.amazonaws.com.${d}/r?X-Amz-Signature=abc`),
  fc.domain().map((d) => `https://${BUCKET}.s3.${d}/r`),
  fc.domain().map((d) => `https://${d}/${BUCKET}/r`),
  fc
    .ipV4()
    .filter((ip) => !ip.startsWith('127.'))
    .map((ip) => `https://${ip}/${BUCKET}/r`),
  fc
    .stringMatching(/^[a-z0-9][a-z0-9-]{2,40}$/)
    .filter((b) => !b.startsWith('cloudformation-custom-resource-response-'))
    .map((b) => `https://${b}.s3.amazonaws.com/r?X-Amz-Signature=abc`),
  fc
    .integer({ min: 1, max: 65_535 })
    .filter((port) => port !== 443) // https's default port: URL drops it, the bucket's own URL
    .map((port) => `https://${BUCKET}.s3.amazonaws.com:${port}/r`),
  fc.constantFrom(
    'https://169.254.170.2/v2/credentials/x',
    'https://169.254.169.254/latest/meta-data/',
    'https://[fd00:ec2::254]/latest/meta-data/',
    `https://s3.amazonaws.com/attacker/${BUCKET}/r`,
    `https://${BUCKET}.s3.amazonaws.com.cn.attacker.example/r`,
    `https://${BUCKET}.s3-external-1.amazonaws.example/r`,
  ),
);

/**
 * The oracle: Fargate's task sizes as the ECS Developer Guide's "Task size" table states them
 * (CPU units -> memory MiB from, to, step; 256 takes 512, 1024 or 2048), written apart from the
 * implementation's table.
 */
const GIB = 1024;
const ROWS: Record<number, (memory: number) => boolean> = {
  256: (m) => [512, 1024, 2048].includes(m),
  512: (m) => m >= 1 * GIB && m <= 4 * GIB && m % GIB === 0,
  1024: (m) => m >= 2 * GIB && m <= 8 * GIB && m % GIB === 0,
  2048: (m) => m >= 4 * GIB && m <= 16 * GIB && m % GIB === 0,
  4096: (m) => m >= 8 * GIB && m <= 30 * GIB && m % GIB === 0,
  8192: (m) => m >= 16 * GIB && m <= 60 * GIB && m % (4 * GIB) === 0,
  16384: (m) => m >= 32 * GIB && m <= 120 * GIB && m % (8 * GIB) === 0,
};
export const isFargateSize = (cpu: number, memory: number) => ROWS[cpu]?.(memory) === true;
export const isFargateCpu = (cpu: number) => ROWS[cpu] !== undefined;
export const isFargateMemory = (memory: number) => Object.values(ROWS).some((row) => row(memory));

/** CPU and memory values near the table (its values, their neighbours, multiples of 512) and far from it. */
export const taskCpu = fc.oneof(
  fc.constantFrom(128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768),
  fc.integer({ min: 1, max: 999_999 }),
);
export const taskMemory = fc.oneof(
  fc.integer({ min: 1, max: 260 }).map((n) => n * 512),
  fc.integer({ min: 1, max: 999_999 }),
);
