#!/usr/bin/env node
// dist/sweep-cli.mjs: orphaned ENIs from a shell, with the caller's credentials. A dry run unless --apply:
//   AWS_REGION=ap-northeast-1 node packages/eni-attach/dist/sweep-cli.mjs [--apply]
import { runSweepCli } from './run-sweep-cli.ts';

process.exitCode = await runSweepCli(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
