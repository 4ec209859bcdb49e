import { bundle } from '@netkit/build';

await bundle({
  dir: import.meta.dirname,
  entries: { acquire: 'src/acquire-handler.ts', reaper: 'src/reaper-handler.ts' },
});
