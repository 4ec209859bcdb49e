import { bundle } from '@netkit/build';

await bundle({
  dir: import.meta.dirname,
  entries: { index: 'src/handler.ts', sweeper: 'src/sweeper.ts', 'sweep-cli': 'src/cli.ts' },
});
