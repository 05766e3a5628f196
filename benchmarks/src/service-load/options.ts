/** The command line of the load test. */
import { parseArgs } from 'node:util';

export interface Options {
  writers: number;
  readers: number;
  generators: number;
  seconds: number;
  warmup: number;
  faultSeconds: number;
  connections: number;
  tasksPerRun: number;
}

export function options(): Options {
  const { values } = parseArgs({
    options: {
      writers: { type: 'string', default: '4' },
      readers: { type: 'string', default: '12' },
      generators: { type: 'string', default: '2' },
      seconds: { type: 'string', default: '15' },
      warmup: { type: 'string', default: '3' },
      'fault-seconds': { type: 'string', default: '15' },
      connections: { type: 'string', default: '16' },
      'tasks-per-run': { type: 'string', default: '250' },
      help: { type: 'boolean', default: false },
    },
    args: process.argv.slice(2).filter((a) => a !== '--'),
  });
  if (values.help) {
    console.log(
      'service-load.ts [--writers 4] [--readers 12] [--generators 2] [--seconds 15] [--warmup 3] [--fault-seconds 15 (0: no fault run)]\n' +
        '                [--connections 16 (per instance, per generator)] [--tasks-per-run 250]\n' +
        'writers and readers are totals, split across the generator processes.',
    );
    process.exit(0);
  }
  const n = (name: string, v: string, min: number) => {
    const x = Number(v);
    if (!Number.isFinite(x) || x < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`);
    return x;
  };
  return {
    writers: n('writers', values.writers, 0),
    readers: n('readers', values.readers, 0),
    generators: n('generators', values.generators, 1),
    seconds: n('seconds', values.seconds, 0),
    warmup: n('warmup', values.warmup, 0),
    faultSeconds: n('fault-seconds', values['fault-seconds'], 0),
    connections: n('connections', values.connections, 1),
    tasksPerRun: n('tasks-per-run', values['tasks-per-run'], 1),
  };
}
