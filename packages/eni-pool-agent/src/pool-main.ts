// dist/pool.mjs: the pool management CLI.
import { poolMain } from './pool-cli.ts';

process.exitCode = await poolMain();
