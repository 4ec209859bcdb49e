import { bundle } from '@netkit/build';

await bundle({
  dir: import.meta.dirname,
  entries: { index: 'src/handler.ts', agent: 'src/agent-cli.ts', pool: 'src/pool-cli.ts' },
});
