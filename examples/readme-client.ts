/** The README's client example, type-checked with the rest of the repository. */
import { Client } from 'tributary';                            // from metaflow import Flow, Task, namespace
import type { TrainFlow } from './train.ts';

const client = await Client.open();                            // default stores, namespace user:<you>
const flow = client.flow<TrainFlow>('TrainFlow');              // Flow('TrainFlow')
const run = await flow.latestSuccessfulRun();                  // .latest_successful_run
if (!run) throw new Error('no successful run yet');
const { bestAlpha, bestMse } = await run.data();               // run.data.bestAlpha (typed: number)
for await (const r of flow.runs({ tags: ['nightly'] })) console.log(r.pathspec); // Flow(...).runs('nightly')
for await (const task of run.step('fit').tasks()) {            // for task in run['fit']: (a page at a time)
  const weights = await task.artifact('weights');              //   task['weights'] (not read yet)
  console.log(await task.input(), weights.sha, (await weights.get()).length); // task['weights'].data
}
const task = await client.task(`${run.pathspec}/start/1`);     // Task('TrainFlow/12/start/1')
console.log(await task.attempts(), await task.exception(), await task.stdout()); // .exception, .stdout
await run.addTags('candidate');                                // run.add_tag('candidate')
const everyone = client.withNamespace(null);
void everyone;                   // namespace(None)
await client.close();
