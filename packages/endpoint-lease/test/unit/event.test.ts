import { describe, expect, it } from 'vitest';
import { FARGATE_TASK_SIZES, taskSizeProblem } from '../../src/event.ts';

// ECS Developer Guide, "Amazon ECS task definition parameters" > "Task size" (the Fargate table), also
// "Troubleshoot Amazon ECS task definition invalid CPU or memory errors".
describe('Fargate task sizes', () => {
  it('holds every row of the documented table, the 8 and 16 vCPU rows included', () => {
    const gib = (n: number) => n * 1024;
    expect(FARGATE_TASK_SIZES['256']).toEqual([512, 1024, 2048]);
    expect(FARGATE_TASK_SIZES['512']).toEqual([1, 2, 3, 4].map(gib));
    expect(FARGATE_TASK_SIZES['1024']).toEqual([2, 3, 4, 5, 6, 7, 8].map(gib));
    expect(FARGATE_TASK_SIZES['2048']).toEqual(Array.from({ length: 13 }, (_, i) => gib(4 + i)));
    expect(FARGATE_TASK_SIZES['4096']).toEqual(Array.from({ length: 23 }, (_, i) => gib(8 + i)));
    expect(FARGATE_TASK_SIZES['8192']).toEqual(Array.from({ length: 12 }, (_, i) => gib(16 + 4 * i)));
    expect(FARGATE_TASK_SIZES['16384']).toEqual(Array.from({ length: 12 }, (_, i) => gib(32 + 8 * i)));
    expect(Object.keys(FARGATE_TASK_SIZES)).toHaveLength(7);
  });

  it('accepts the documented pairs and either value alone when some pair takes it', () => {
    for (const [cpu, memories] of Object.entries(FARGATE_TASK_SIZES)) {
      for (const memory of memories) expect(taskSizeProblem(cpu, String(memory))).toBeUndefined();
      expect(taskSizeProblem(cpu, undefined)).toBeUndefined();
    }
    expect(taskSizeProblem(undefined, '122880')).toBeUndefined();
    expect(taskSizeProblem(undefined, undefined)).toBeUndefined();
  });

  it.each([
    ['999999', undefined, /cpu 999999 is not a Fargate task size/],
    ['128', '512', /cpu 128 is not/],
    [undefined, '0', /memory 0 MiB is not a Fargate task size with any CPU value/],
    [undefined, '1536', /memory 1536 MiB is not/],
    [
      '256',
      '1536',
      /does not go with cpu 256 on Fargate \(512-2048 MiB in steps of 512: 512, 1024 or 2048\)/,
    ],
    ['1024', '512', /does not go with cpu 1024 .*2048-8192 MiB in steps of 1024/],
    ['4096', '31744', /does not go with cpu 4096/],
    ['8192', '18432', /does not go with cpu 8192 .*16384-61440 MiB in steps of 4096/],
    ['16384', '131072', /does not go with cpu 16384/],
  ])('refuses cpu %s with memory %s, saying what goes', (cpu, memory, message) => {
    expect(taskSizeProblem(cpu, memory)).toMatch(message);
  });
});
