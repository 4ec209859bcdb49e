// Preloaded with `node -r` into every cold-start child (bare runs too, so both
// sides pay the same few microseconds): on exit, write the process's CPU time
// (user + system, ms) to file descriptor 3, which the benchmark reads.
'use strict';
const { writeSync } = require('node:fs');
process.on('exit', () => {
  const usage = process.cpuUsage();
  try {
    writeSync(3, String((usage.user + usage.system) / 1000));
  } catch {
    // fd 3 is not open: started by hand, nothing to report.
  }
});
