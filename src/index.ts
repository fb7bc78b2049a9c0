/**
 * jobbert: cross-lingual job-title matching with JobBERT-V3 in Node.js.
 *
 * ```ts
 * import { kernels, matrix } from 'jobbert';
 * const { indices, scores } = await kernels.topK(matrix(queries), matrix(corpus), 10);
 * ```
 */
export * as kernels from './kernels.js';
export type { Activation, Device, DeviceOptions, Isa, KernelMatrix, Metric, Precision, TopKResult } from './kernels.js';
export { DeviceMatrix } from './device-matrix.js';
export { matrix, row } from './matrix.js';
export { checksum, ResidentMatrix } from './resident.js';
export type { MatrixLike } from './resident.js';
export type { Matrix } from './matrix.js';
export { JobBERTError } from './errors.js';
export type { Branch, Encoder, EncoderSpec } from './encoder.js';
export { encoderFromSpec } from './encoders.js';
export { TfIdfEncoder } from './tfidf.js';
export { LiteEncoder, trainLiteEncoder, demoCommand, matchDefault, catalogue, catalogueEntries } from './lite/index.js';
export type { LiteTrainOptions, CatalogueEntry } from './lite/index.js';
export type { TfIdfOptions } from './tfidf.js';
export { MatchIndex } from './match-index.js';
export type { MatchEntry, MatchResult, SearchOptions, Storage } from './match-index.js';
export { SkillIndex } from './skills.js';
export type { Skill, SkillMatch, SkillExplanation } from './skills.js';
export { evaluate } from './evaluate.js';
export type { EvaluateResult, Qrels, Run, RunEntry } from './evaluate.js';
export { loadTalentCLEFTaskA, readQrels, readRun, readTitles, writeRun } from './trec.js';
export type { TalentCLEFTaskA, Title } from './trec.js';
export { evaluateTaskA } from './talentclef.js';
export type { JobBERTErrorCode } from './errors.js';
export { JobBERT, convertModelDir } from './jobbert.js';
export type { JobBERTOptions } from './jobbert.js';
export { createMatcher, createServer, loadIndexWithEncoder, openApiDocument, readSkillsFile, ServeError } from './serve/index.js';
export type { JobbertServer, Matcher, MatcherOptions, ServeOptions } from './serve/index.js';
export { train, type TrainEvent, type TrainOptions, type TrainProgress, type TrainResult } from './train/index.js';
export { download, modelCacheDir } from './download.js';
export type { DownloadOptions, DownloadProgress } from './download.js';
