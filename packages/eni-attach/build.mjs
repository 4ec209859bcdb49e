import { bundle } from '@netkit/build';

await bundle({
  dir: import.meta.dirname,
  entries: { index: 'src/handler.ts', sweeper: 'src/sweeper-handler.ts', 'sweep-cli': 'src/sweep-cli.ts' },
});
