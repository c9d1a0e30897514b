/**
 * One scheduler for every job of every database a `walsync run` runs, in
 * place of a timer per (job, database, replica): one timer, and at most
 * `maxConcurrent` jobs at a time. Jobs of one lane (a database) never run
 * at once. A job that comes due while it still runs, or while it waits for
 * its database's other job, skips that tick and says so; one that waits for
 * a free slot is not queued twice, so a fleet of thousands drains its queue
 * instead of piling up ticks. croner computes
 * the next time of cron-expression schedules.
 */
import { Cron } from 'croner';
import type { Schedule } from '../config/config.js';

export interface ScheduledTask {
  /** Tasks of one lane run one after another. */
  readonly lane: string;
  readonly schedule: Schedule;
  /** Runs the job; must not reject (the runner records its failures). */
  run(): Promise<void>;
  /** Called when the task comes due while it is still running: that tick is skipped. */
  onOverrun(): void;
  /** Asked when the task comes due: false skips the tick (a sync of a database nobody wrote) without taking a slot. */
  wanted?(): boolean;
}

export interface TaskHandle {
  /** When the task is due next. */
  nextRun(): Date;
  /** Takes the task off the schedule; resolves once a run under way has finished. */
  remove(): Promise<void>;
}

interface Entry {
  readonly task: ScheduledTask;
  readonly cron?: Cron;
  dueAt: number;
  state: 'waiting' | 'queued' | 'running';
  removed: boolean;
  finished?: Promise<void>;
}

/** How often due tasks are looked for: a 1 s interval runs within this of its time. */
const TICK_MS = 100;

export class Scheduler {
  private readonly entries = new Set<Entry>();
  private readonly ready: Entry[] = [];
  private readonly busyLanes = new Set<string>();
  private running = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly maxConcurrent: number) {}

  add(task: ScheduledTask): TaskHandle {
    const cron = task.schedule.kind === 'cron' ? new Cron(task.schedule.pattern, { paused: true }) : undefined;
    // The first run comes at once (a database's first sync, snapshot and retention pass), as croner's first tick did.
    const entry: Entry = { task, cron, dueAt: cron ? nextCronTime(cron, Date.now()) : Date.now(), state: 'waiting', removed: false };
    this.entries.add(entry);
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
    queueMicrotask(() => this.tick());
    return {
      nextRun: () => new Date(entry.dueAt),
      remove: async () => {
        entry.removed = true;
        this.entries.delete(entry);
        if (this.entries.size === 0) this.stopTimer();
        await entry.finished;
      },
    };
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const now = Date.now();
    for (const entry of this.entries) {
      if (entry.dueAt > now) continue;
      if (entry.state === 'waiting' && entry.task.wanted?.() === false) {
        entry.dueAt = this.nextTime(entry, entry.dueAt);
        continue;
      }
      if (entry.state === 'waiting') {
        entry.state = 'queued';
        entry.dueAt = this.nextTime(entry, entry.dueAt);
        this.ready.push(entry);
        continue;
      }
      entry.dueAt = this.nextTime(entry, entry.dueAt);
      // Waiting for a free slot is a fleet's everyday state; still running, or waiting for the same database's other job, is an overrun.
      if (entry.state === 'running' || this.busyLanes.has(entry.task.lane)) entry.task.onOverrun();
    }
    this.startReady();
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
    this.running++;
    this.busyLanes.add(entry.task.lane);
    entry.dueAt = this.nextTime(entry, Date.now());
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
