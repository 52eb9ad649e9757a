/*  records: the shapes the client returns, field for field PROTOCOL.md's
    records (4.4) with the wire's names, so they read the same as the spec,
    the CLI's JSON and the other clients. Times are the wire's RFC 3339
    text; `data` and `result` are the user's values, decoded.  */

export type ItemStatus = "pending" | "scheduled" | "claimed" | "done" | "poisoned";

/** What fail() leaves an item as. */
export type FailStatus = "pending" | "scheduled" | "poisoned";

export interface Item<T = unknown> {
  id: string;
  pool: string;
  /** the pushed value (its msgpack decoded; the bytes with `raw: true`) */
  data: T;
  status: ItemStatus;
  claimed_by: string | null;
  claimed_at: string | null;
  lease_expires_at: string | null;
  attempts: number;
  max_retries: number;
  /** the value given to complete, or null */
  result: unknown;
  error: string | null;
  created_at: string;
  /** lower is claimed first */
  priority: number;
  /** scheduled: when it becomes pending; else null */
  run_at: string | null;
  unique_key: string | null;
}

/** A periodic push: at every tick of cron (UTC) the broker pushes data to
 *  pool as the item NAME@TICK (the tick's RFC 3339 time), once. */
export interface Schedule<T = unknown> {
  name: string;
  pool: string;
  cron: string;
  data: T;
  priority: number;
  /** null: the broker's default */
  max_retries: number | null;
  next_at: string | null;
  last_fired_at: string | null;
  created_at: string;
}

export interface WorkerInfo {
  worker_id: string;
  host: string | null;
  pid: number | null;
  capabilities: string[];
  pool_id: string | null;
  started_at: string;
  status: string;
  last_heartbeat: string;
  current_task_id: string | null;
  heartbeat_interval_seconds: number;
  metadata: Record<string, unknown>;
}

export interface PoolStats {
  pool: string;
  pending: number;
  claimed: number;
  done: number;
  poisoned: number;
  /** claims on the pool find nothing (Pause) */
  paused: boolean;
  scheduled: number;
  /** the retry policy (setBackoff); 0: none */
  backoff_base_seconds: number;
  backoff_cap_seconds: number;
  backoff_jitter: number;
}

export interface Stats {
  pools: PoolStats[];
  /** workers by status */
  workers: Record<string, number>;
  /** the broker's counters (`requests.<Method>.<STATUS>`, `commits`, ...) */
  counters: Record<string, number>;
}

export interface PingInfo {
  version: number;
  server: string;
  time: string;
  max_message: number;
}

export interface PushResult {
  id: string;
  /** the pool already held an item with this id; nothing changed */
  duplicate: boolean;
}

export interface EntryOutcome {
  id: string;
  /** a status code: 0 when this entry was completed */
  code: number;
  /** "" when OK, else why */
  message: string;
}

export interface ListPage<T = unknown> {
  items: Item<T>[];
  /** pass to the next list() for the following page; null: no more */
  cursor: string | null;
}
