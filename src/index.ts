/**
 * jobbert: cross-lingual job-title matching with JobBERT-V3 in Node.js.
 *
 * ```ts
 * import { kernels, matrix } from 'jobbert';
 * const { indices, scores } = await kernels.topK(matrix(queries), matrix(corpus), 10);
 * ```
 */
export * as kernels from './kernels.js';
export type { Activation, Device, Isa, Metric, TopKResult } from './kernels.js';
export { matrix, row } from './matrix.js';
export { ResidentMatrix } from './resident.js';
export type { MatrixLike } from './resident.js';
export type { Matrix } from './matrix.js';
export { JobBERTError } from './errors.js';
export type { JobBERTErrorCode } from './errors.js';
