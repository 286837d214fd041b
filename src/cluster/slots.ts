/**
 * A worker's slots, counted in sessions (spec/cluster.md, "Slots are
 * sessions"): a task of k nodes takes k slots, or all of them when k is
 * more than the worker has (its pool then lends the group extra threads,
 * as on one host, src/jobs/pool.ts, so it must run alone).
 *
 * Where: src/cluster, used by the worker (worker.ts). Its shared pulls,
 * its targeted pull and the direct offers it answers all take slots here,
 * and only synchronously (`tryTake`), so none of them can take a slot
 * another took between a check and an await: a task that finds too few
 * free slots is handed back by its caller at once. A task that must not be
 * handed back (its last delivery) waits here in order (`take`), and while
 * any waits no one else takes a slot, so it is not starved by small tasks.
 *
 * Why sessions and not tasks: two parts of one split group on a worker
 * whose pool cannot run both at once would leave one waiting for a thread
 * while the other blocks on the pipe between them, until their nodes'
 * timeouts.
 */
export class SessionSlots {
  private used = 0;
  private closed = false;
  private readonly waiting: { readonly need: number; readonly done: (took: boolean) => void }[] = [];
  private watchers: (() => void)[] = [];

  constructor(readonly total: number) {
    if (!Number.isInteger(total) || total < 1) throw new RangeError(`slots must be a whole number of at least 1, not ${total}`);
  }

  /** Slots a task of `nodes` sessions takes here: its node count, at most all of them. */
  needOf(nodes: number): number {
    return Math.max(1, Math.min(nodes, this.total));
  }

  /** Slots in use now. */
  get inUse(): number {
    return this.used;
  }

  get free(): number {
    return this.total - this.used;
  }

  /** True while a task waits for slots: no one else may take any then. */
  get queued(): boolean {
    return this.waiting.length > 0;
  }

  /** Takes `need` slots now, when that many are free and no task waits; false (nothing taken) otherwise. */
  tryTake(need: number): boolean {
    if (this.closed || this.waiting.length > 0 || need > this.free) return false;
    this.used += need;
    this.changed();
    return true;
  }

  /** Waits in order for `need` slots and takes them; false (nothing taken) when the slots close first. */
  take(need: number): Promise<boolean> {
    if (this.tryTake(need)) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
    return new Promise<boolean>((done) => this.waiting.push({ need, done }));
  }

  /** Gives back slots a task took. */
  give(need: number): void {
    this.used -= need;
    if (this.used < 0) throw new Error(`slots given back beyond those taken (${this.used} in use)`);
    for (let first = this.waiting[0]; first !== undefined && first.need <= this.free; first = this.waiting[0]) {
      this.waiting.shift();
      this.used += first.need;
      first.done(true);
    }
    this.changed();
  }

  /** Resolves when `holds()` is true after a change of the slots (or at once), or when they close. */
  async until(holds: () => boolean): Promise<void> {
    while (!this.closed && !holds()) await new Promise<void>((wake) => this.watchers.push(wake));
  }

  /** Wakes whatever waits for a change: the caller's condition changed outside the slots. */
  changed(): void {
    const watchers = this.watchers;
    this.watchers = [];
    for (const wake of watchers) wake();
  }

  /** The worker stops: tasks waiting for slots get none, waiting loops wake. */
  close(): void {
    this.closed = true;
    for (const task of this.waiting.splice(0)) task.done(false);
    this.changed();
  }
}
