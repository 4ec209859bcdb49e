import { execFile } from 'node:child_process';

/** Runs an OS command without a shell; injectable so tests never touch this machine. */
export type CommandRunner = (command: string, args: string[]) => Promise<void>;

export const execRunner: CommandRunner = (command, args) =>
  new Promise((resolve, reject) => {
    execFile(command, args, { timeout: 30_000 }, (error, _stdout, stderr) => {
      if (error)
        reject(new Error(`${command} ${args.join(' ')} failed: ${String(stderr).trim() || error.message}`));
      else resolve();
    });
  });

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;

/** True for an RFC 1123 host name (what hostnamectl accepts as a static name). */
export function isValidHostname(name: string): boolean {
  return name.length > 0 && name.length <= 253 && name.split('.').every((label) => LABEL.test(label));
}

export async function setHostname(run: CommandRunner, name: string): Promise<void> {
  if (!isValidHostname(name))
    throw new Error(
      `${JSON.stringify(name)} is not a valid host name (RFC 1123: letters, digits, hyphens, dots)`,
    );
  await run('hostnamectl', ['set-hostname', name]);
}
