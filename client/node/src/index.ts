/*  workpool: the Node.js client of the workpool broker.  */
export { Client, Pool, Raw } from "./client.js";
export type {
  BackoffOptions, CallOptions, ClaimOptions, ClientOptions, FailOptions, ListOptions, PushEntry,
  PushOptions, RegisterOptions, ScheduleOptions, Scheduling, WorkerIdOptions, WorkerListFilter,
} from "./client.js";
export * from "./errors.js";
export type * from "./records.js";
export { Limits } from "./limits.js";
export { RetryLater, Worker } from "./worker.js";
export { Subscription } from "./subscription.js";
export type { AckOutcome, SubscribeOptions } from "./subscription.js";
export type { WorkerOptions } from "./worker.js";
export {
  WorkpoolWorkBackend, WorkpoolWorkPool, WorkpoolRegistrationBackend,
} from "./flatagents.js";
export type {
  AdapterOptions, PushOptionsExt, WorkBackend, WorkPool, WorkItem, RegistrationBackend, WorkerRegistration,
  WorkerRecord, WorkerFilter,
} from "./flatagents.js";
export { parseCert, curveKeys } from "./curve.js";
export * as wire from "./schema.js";
export { packValue, unpack } from "./wire.js";
