// dist/pool.mjs: the pool management CLI.
import { poolMain } from './run-pool-cli.ts';

process.exitCode = await poolMain();
