/**
 * `petrel/client`: a typed client of a Petrel cluster.
 *
 * ```ts
 * import { connect } from 'petrel/client';
 * const petrel = await connect({ addr: 'localhost:9000' });
 * const ticket = await petrel.submit('echo', 'hello');
 * console.log((await petrel.wait(ticket)).output);
 * await petrel.close();
 * ```
 */
export { connect, Client } from './client.js';
export type { ConnectOptions, SubmitSpec, JobResult, ListedJob } from './client.js';
export { WireError } from '../shared/errors.js';
export type { WireCode } from '../shared/errors.js';
export type { JobState } from '../shared/api.js';
export type { OutputLine, OutputStream } from '../shared/run-log-format.js';
export { JOB_STATES } from '../shared/api.js';
export { LineConnection } from './line-connection.js';
export { PetrelWorker } from './worker.js';
export type { WorkerHandler, WorkerJob, WorkerOptions } from './worker.js';
export type { ReplyShape, RequestOptions } from './line-connection.js';
