/*  workpool: the Node.js client of the workpool broker.  */
export { Client, Pool, Raw } from "./client.js";
export type {
  CallOptions, ClaimOptions, ClientOptions, ListOptions, PushEntry, PushOptions, RegisterOptions,
  WorkerIdOptions, WorkerListFilter,
} from "./client.js";
export * from "./errors.js";
export type * from "./records.js";
export { Limits } from "./limits.js";
export { Worker } from "./worker.js";
export type { WorkerOptions } from "./worker.js";
export {
  WorkpoolWorkBackend, WorkpoolWorkPool, WorkpoolRegistrationBackend,
} from "./flatagents.js";
export type {
  AdapterOptions, WorkBackend, WorkPool, WorkItem, RegistrationBackend, WorkerRegistration,
  WorkerRecord, WorkerFilter,
} from "./flatagents.js";
export { parseCert, curveKeys } from "./curve.js";
export * as wire from "./schema.js";
export { packValue, unpack } from "./wire.js";
