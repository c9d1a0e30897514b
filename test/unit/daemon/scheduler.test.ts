/** The one scheduler of `walsync run` (src/daemon/scheduler.ts): lanes, the concurrency bound, overruns, sleeping and waking, removal. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Schedule } from '../../../src/config/config.js';
import { Scheduler } from '../../../src/daemon/scheduler.js';

const everyMs = (ms: number): Schedule => ({ kind: 'interval', ms, text: `${ms}ms` });

/** A task that records how many of its kind run at once. */
function tracked(counts: { now: number; most: number; runs: number }, ms: number) {
  return async () => {
    counts.now++;
    counts.most = Math.max(counts.most, counts.now);
    counts.runs++;
    await sleep(ms);
    counts.now--;
  };
}

describe('scheduler', () => {
  it('runs at most maxConcurrent jobs at once over all lanes, and one at a time in a lane', async () => {
    const scheduler = new Scheduler(3);
    const all = { now: 0, most: 0, runs: 0 };
    const lanes = Array.from({ length: 10 }, () => ({ now: 0, most: 0, runs: 0 }));
    const handles = lanes.flatMap((lane, i) =>
      ['sync', 'snapshot'].map(() =>
        scheduler.add({
          lane: `db${i}`,
          schedule: everyMs(50),
          onOverrun: () => undefined,
          run: async () => Promise.all([tracked(all, 20)(), tracked(lane, 20)()]).then(() => undefined),
        }),
      ),
    );
    await sleep(600);
    await Promise.all(handles.map((handle) => handle.remove()));
    assert.equal(all.most, 3);
    assert.ok(lanes.every((lane) => lane.most === 1 && lane.runs > 0), JSON.stringify(lanes));
    assert.equal(all.now, 0, 'remove() waited for the runs under way');
  });

  it('skips a tick that comes while the job still runs, and says so; a job waiting for a slot is not queued twice', async () => {
    const scheduler = new Scheduler(1);
    let overruns = 0;
    const long = { now: 0, most: 0, runs: 0 };
    const waiting = { now: 0, most: 0, runs: 0 };
    const slow = scheduler.add({ lane: 'a', schedule: everyMs(20), onOverrun: () => overruns++, run: tracked(long, 300) });
    const queued = scheduler.add({ lane: 'b', schedule: everyMs(20), onOverrun: () => assert.fail('a queued job is not running'), run: tracked(waiting, 1) });
    await sleep(450);
    await Promise.all([slow.remove(), queued.remove()]);
    assert.ok(overruns >= 2, `${overruns} overruns`);
    assert.equal(long.most, 1);
    assert.ok(waiting.runs <= 2, `the queued job ran ${waiting.runs} times, once per free slot`);
  });

  it('takes the next time of a cron expression from croner', async () => {
    const scheduler = new Scheduler(1);
    const handle = scheduler.add({ lane: 'a', schedule: { kind: 'cron', pattern: '0 0 3 * * *' }, onOverrun: () => undefined, run: async () => undefined });
    const next = handle.nextRun();
    assert.equal(next.getHours(), 3);
    assert.equal(next.getMinutes(), 0);
    assert.ok(next.getTime() > Date.now());
    await handle.remove();
  });

  it('lets a task with nothing to do sleep until the time it names, and runs it at its next tick once woken', async () => {
    const scheduler = new Scheduler(1);
    let asked = 0;
    let runs = 0;
    let sleepFor = 10_000;
    const handle = scheduler.add({
      lane: 'a',
      schedule: everyMs(20),
      onOverrun: () => undefined,
      sleepUntil: (now) => {
        asked++;
        return runs === 0 ? undefined : now + sleepFor;
      },
      run: async () => {
        runs++;
      },
    });
    await sleep(300);
    assert.equal(runs, 1, 'the first tick ran; every later one slept');
    assert.equal(asked, 2, 'asked once to run, once more to sleep, and not again while asleep');
    assert.ok(handle.nextRun().getTime() > Date.now() + 9000);

    sleepFor = 0;
    handle.wake();
    await sleep(100);
    assert.ok(runs >= 2, `woken, it ran again (${runs} runs)`);
    await handle.remove();
  });

  it('comes back to a task whose sleep ends, without a wake', async () => {
    const scheduler = new Scheduler(1);
    const ranAt: number[] = [];
    const started = Date.now();
    const handle = scheduler.add({
      lane: 'a',
      schedule: everyMs(10),
      onOverrun: () => undefined,
      sleepUntil: (now) => (ranAt.length === 1 && now < started + 150 ? started + 150 : undefined),
      run: async () => {
        ranAt.push(Date.now());
      },
    });
    await sleep(250);
    await handle.remove();
    assert.ok(ranAt.length >= 2);
    assert.ok(ranAt[1]! - started >= 150, `slept until its time (${ranAt[1]! - started} ms)`);
  });
});
