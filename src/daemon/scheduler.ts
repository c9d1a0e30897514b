/**
 * One scheduler for every job of every database a `walsync run` runs, in
 * place of a timer per (job, database, replica): one timer, set for the
 * earliest due task of a heap, and at most `maxConcurrent` jobs at a time.
 * Jobs of one lane (a database) never run at once. A job that comes due
 * while it still runs, or while it waits for its database's other job,
 * skips that tick and says so; one that waits for a free slot is not queued
 * twice, so a fleet of thousands drains its queue instead of piling up
 * ticks. A task with nothing to do sleeps until a time it names or until it
 * is woken, so thousands of databases nobody writes cost no work per tick.
 * croner computes the next time of cron-expression schedules.
 */
import { Cron } from 'croner';
import type { Schedule } from '../config/config.js';
import { MinHeap } from './min-heap.js';

export interface ScheduledTask {
  /** Tasks of one lane run one after another. */
  readonly lane: string;
  readonly schedule: Schedule;
  /** Runs the job; must not reject (the runner records its failures). */
  run(): Promise<void>;
  /** Called when the task comes due while it is still running: that tick is skipped. */
  onOverrun(): void;
  /**
   * Asked when the task comes due. A time after `now` skips the tick
   * without taking a slot (a sync of a database nobody wrote) and asks
   * again then, or at the first tick after wake(); undefined runs the task.
   */
  sleepUntil?(now: number): number | undefined;
}

export interface TaskHandle {
  /** When the task is due next. */
  nextRun(): Date;
  /** There is something to look at: a sleeping task comes due at its schedule's next tick (an interval after its last start, or now). */
  wake(): void;
  /** Takes the task off the schedule; resolves once a run under way has finished. */
  remove(): Promise<void>;
}

interface Entry {
  readonly task: ScheduledTask;
  readonly cron?: Cron;
  dueAt: number;
  /** The heap holds one live item per entry: older ones carry an older `version` and are dropped. */
  version: number;
  state: 'waiting' | 'queued' | 'running';
  removed: boolean;
  startedAt?: number;
  finished?: Promise<void>;
}

interface Due {
  readonly at: number;
  readonly entry: Entry;
  readonly version: number;
}

/** setTimeout takes at most this (about 24.8 days); a later task is looked at again then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Scheduler {
  private readonly due = new MinHeap<Due>((a, b) => a.at - b.at);
  private readonly ready: Entry[] = [];
  private readonly busyLanes = new Set<string>();
  private taskCount = 0;
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  /** While a tick works through the due tasks, the timer is set once at its end. */
  private ticking = false;

  constructor(private readonly maxConcurrent: number) {}

  add(task: ScheduledTask): TaskHandle {
    const cron = task.schedule.kind === 'cron' ? new Cron(task.schedule.pattern, { paused: true }) : undefined;
    // The first run comes at once (a database's first sync, snapshot and retention pass), as croner's first tick did.
    const entry: Entry = { task, cron, dueAt: 0, version: 0, state: 'waiting', removed: false };
    this.taskCount++;
    this.setDue(entry, cron ? nextCronTime(cron, Date.now()) : Date.now());
    return {
      nextRun: () => new Date(entry.dueAt),
      wake: () => {
        if (entry.removed || entry.state !== 'waiting') return;
        const now = Date.now();
        const wakeAt = entry.task.schedule.kind === 'interval' ? Math.max(now, (entry.startedAt ?? 0) + entry.task.schedule.ms) : nextCronTime(entry.cron!, now);
        if (wakeAt < entry.dueAt) this.setDue(entry, wakeAt);
      },
      remove: async () => {
        if (!entry.removed) {
          entry.removed = true;
          if (--this.taskCount === 0) this.stopTimer();
        }
        await entry.finished;
      },
    };
  }

  private setDue(entry: Entry, at: number): void {
    entry.dueAt = at;
    entry.version++;
    // Items of removed tasks and earlier times of woken ones wait for their time to be dropped; past twice the live ones, they go now.
    if (this.due.size > 2 * this.taskCount + 64) this.due.retain((item) => !item.entry.removed && item.version === item.entry.version);
    this.due.push({ at, entry, version: entry.version });
    if (!this.ticking && at < this.timerAt) this.armTimer(at);
  }

  private armTimer(at: number): void {
    clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Number.POSITIVE_INFINITY;
      this.tick();
    }, Math.min(MAX_TIMER_MS, Math.max(0, at - Date.now())));
  }

  private stopTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }

  private tick(): void {
    const now = Date.now();
    this.ticking = true;
    try {
      for (let top = this.due.peek(); top && top.at <= now; top = this.due.peek()) {
        this.due.pop();
        const { entry } = top;
        if (entry.removed || top.version !== entry.version) continue;
        this.comeDue(entry, now);
      }
      this.startReady();
    } finally {
      this.ticking = false;
    }
    const next = this.due.peek();
    if (next && this.taskCount > 0) this.armTimer(next.at);
  }

  private comeDue(entry: Entry, now: number): void {
    if (entry.state === 'waiting') {
      const sleepUntil = entry.task.sleepUntil?.(now);
      if (sleepUntil !== undefined && sleepUntil > now) {
        this.setDue(entry, sleepUntil);
        return;
      }
      entry.state = 'queued';
      this.setDue(entry, this.nextTime(entry, entry.dueAt));
      this.ready.push(entry);
      return;
    }
    this.setDue(entry, this.nextTime(entry, entry.dueAt));
    // Waiting for a free slot is a fleet's everyday state; still running, or waiting for the same database's other job, is an overrun.
    if (entry.state === 'running' || this.busyLanes.has(entry.task.lane)) entry.task.onOverrun();
  }

  private startReady(): void {
    for (let i = 0; i < this.ready.length && this.running < this.maxConcurrent; ) {
      const entry = this.ready[i]!;
      if (entry.removed) {
        this.ready.splice(i, 1);
      } else if (this.busyLanes.has(entry.task.lane)) {
        i++;
      } else {
        this.ready.splice(i, 1);
        this.start(entry);
      }
    }
  }

  private start(entry: Entry): void {
    entry.state = 'running';
    entry.startedAt = Date.now();
    this.running++;
    this.busyLanes.add(entry.task.lane);
    this.setDue(entry, this.nextTime(entry, entry.startedAt));
    entry.finished = entry.task.run().finally(() => {
      entry.state = 'waiting';
      this.running--;
      this.busyLanes.delete(entry.task.lane);
      this.startReady();
    });
  }

  private nextTime(entry: Entry, from: number): number {
    const { schedule } = entry.task;
    return schedule.kind === 'interval' ? Math.max(from + schedule.ms, Date.now() + 1) : nextCronTime(entry.cron!, from);
  }
}

function nextCronTime(cron: Cron, from: number): number {
  return cron.nextRun(new Date(from))?.getTime() ?? Number.MAX_SAFE_INTEGER;
}
