/** IPv4 helpers: numeric order (10.0.0.10 after 10.0.0.9, unlike string order), ranges, CIDR checks. */
import { InvalidValueError } from '@netkit/aws-core/config';

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** The address as an unsigned 32-bit number, or undefined when `ip` is not a dotted IPv4 address. */
function ipToNumber(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

function numberToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/** Compare two IPv4 addresses numerically; anything unparsable sorts last. */
export function compareIps(a: string, b: string): number {
  return (ipToNumber(a) ?? 2 ** 32) - (ipToNumber(b) ?? 2 ** 32);
}

/** Largest range the pool CLI creates in one run. */
const MAX_RANGE = 256;

/** Parse `10.0.1.10-10.0.1.15` (inclusive), `10.0.1.10-15` (last octet) or one address. */
export function parseIpRange(text = ''): string[] {
  const expected = `an IPv4 range like 10.0.1.10-10.0.1.15 or 10.0.1.10-15 (at most ${MAX_RANGE} addresses)`;
  const [first, last, ...rest] = text.trim().split('-');
  if (first === undefined || rest.length > 0) throw new InvalidValueError(expected);
  const start = ipToNumber(first.trim());
  let endText = (last ?? first).trim();
  if (/^\d{1,3}$/.test(endText)) endText = first.trim().replace(/\d+$/, endText);
  const end = ipToNumber(endText);
  if (start === undefined || end === undefined || end < start || end - start + 1 > MAX_RANGE)
    throw new InvalidValueError(expected);
  return Array.from({ length: end - start + 1 }, (_, i) => numberToIp(start + i));
}

/** Why `ip` cannot be a private address in the subnet `cidr` (AWS reserves the first four and the last). */
export function subnetAddressProblem(ip: string, cidr: string): string | undefined {
  const [network = '', bits] = cidr.split('/');
  const size = 2 ** (32 - Number(bits));
  const offset = (ipToNumber(ip) ?? Number.NaN) - (ipToNumber(network) ?? Number.NaN);
  if (!(offset >= 0 && offset < size)) return `${ip} is outside the subnet's ${cidr}`;
  if (offset < 4 || offset === size - 1)
    return `${ip} is reserved by AWS in ${cidr} (the first four addresses and the last one)`;
  return undefined;
}
