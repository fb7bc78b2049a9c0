/**
 * jobbert: cross-lingual job-title matching with JobBERT-V3 in Node.js.
 *
 * ```ts
 * import { kernels, matrix } from 'jobbert';
 * const { indices, scores } = await kernels.topK(matrix(queries), matrix(corpus), 10);
 * ```
 *
 * The sections below follow the layers of src/, from the kernels up.
 */

// ---- Kernels: dense, infoNCE, topK on the native CPU/CUDA backends; matrices in JS, native or GPU memory ----
export * as kernels from './kernels/index.js';
export type { Activation, Device, DeviceOptions, Isa, KernelMatrix, Metric, Precision, TopKResult } from './kernels/index.js';
export { matrix, row, type Matrix } from './kernels/matrix.js';
export { checksum, ResidentMatrix, type MatrixLike } from './kernels/resident.js';
export { DeviceMatrix } from './kernels/device-matrix.js';

// ---- Encoders: the Encoder contract and its implementations ----
export type { Branch, Encoder, EncoderSpec } from './encoders/encoder.js';
export { TfIdfEncoder, type TfIdfOptions } from './encoders/tfidf.js';
export { preprocessText, pythonStrip, type PreprocessOptions } from './encoders/preprocess.js';
export { LiteEncoder } from './lite/encoder.js';
export { trainLiteEncoder, type LiteTrainOptions } from './lite/train.js';
export { JobBERT, convertModelDir, type JobBERTOptions } from './model/jobbert.js';
export type { ModelPrecision } from './model/convert.js';
export { download, modelCacheDir, type DownloadOptions, type DownloadProgress } from './model/download.js';
export { catalogue, catalogueEntries, type CatalogueEntry } from './catalogue/index.js';

// ---- Matching: the exact index, skills, the default matcher over the built-in catalogue ----
export { MatchIndex, type MatchEntry, type MatchResult, type SearchOptions, type Storage } from './match/match-index.js';
export { type GroupSearchResult, INT8_MAX_COLS, QuantizedMatrix } from './match/quantized.js';
export { SkillIndex, type Skill, type SkillExplanation, type SkillMatch } from './match/skills.js';
export { encoderFromSpec } from './match/encoder-spec.js';
export { matchDefault } from './match/default-index.js';

// ---- Normalising: vacancy titles → ESCO occupations (ISCO code, calibrated confidence, alternatives) ----
export {
  Normalizer,
  cleanTitle,
  fitCalibration,
  loadBuiltinTaxonomy,
  readCalibration,
  readTaxonomy,
  readExamples,
} from './normalize/index.js';
export type {
  Calibration,
  CalibrationFigures,
  CalibrationFit,
  FitCalibrationOptions,
  CalibrationModel,
  ConfidenceFeatures,
  MatchKind,
  Example,
  NormalizeAlternative,
  NormalizeMatched,
  NormalizeOptions,
  NormalizeResult,
  NormalizerOptions,
  NormalizerSearch,
  SkippedExample,
  StreamTitle,
  Taxonomy,
  TaxonomyOccupation,
} from './normalize/index.js';

// ---- Evaluation: TalentCLEF metrics and TREC files ----
export { evaluate, type EvaluateResult, type Qrels, type Run, type RunEntry } from './eval/evaluate.js';
export {
  loadTalentCLEFPair,
  loadTalentCLEFTaskA,
  readQrels,
  readRun,
  readTitles,
  writeRun,
  type TalentCLEFTaskA,
  type Title,
} from './eval/trec.js';
export { evaluateTaskA } from './eval/talentclef.js';

// ---- Scaling out on NATS JetStream: batch jobs over workers, index distribution, sharded serving ----
export { runBatch, type BatchOptions, type BatchProgress, type BatchResult, type ChunkReport } from './cluster/batch.js';
export { startWorker, type Worker, type WorkerOptions, type WorkerStats } from './cluster/worker.js';
export { listJobs, removeJob, type JobRemoval, type JobSummary } from './cluster/job-admin.js';
export { encodeRunner, readBatchInput, type BatchRow, type BatchTask, type ChunkMessage, type TaskRunner } from './cluster/jobs.js';
export {
  publishIndex,
  shardOf,
  watchIndex,
  type IndexLoader,
  type PublishResult,
  type ShardManifest,
  type WatchedIndex,
  type WatchOptions,
} from './cluster/index-store.js';
export { SwappableIndex, type IndexVersion } from './cluster/swap.js';
export { normalizeFingerprint, normalizeRunner, type NormalizeSettings } from './cluster/normalize-task.js';
export { serveShard, type ShardService } from './cluster/shard-service.js';
export { ShardRouter, type RouterOptions } from './cluster/shard-router.js';

// ---- Training: InfoNCE on the JobBERT heads or the whole LiteEncoder ----
export { train, type TrainEvent, type TrainOptions, type TrainProgress, type TrainResult } from './train/index.js';
export { adaptLiteEncoder, type AdaptOptions, type AdaptResult } from './train/adapt.js';

// ---- Serving: the HTTP service as a library ----
export { createMatcher, createServer, loadIndexWithEncoder, openApiDocument, readSkillsFile, ServeError } from './serve/index.js';
export type { CallOptions, IndexWithEncoder, JobbertServer, Matcher, MatcherOptions, ServedIndex, ServeOptions } from './serve/index.js';

// ---- Errors ----
export {
  ERROR_CODES,
  JobBERTError,
  SERVICE_ERROR_CODES,
  type JobBERTErrorCode,
  type LibraryErrorCode,
  type ServiceErrorCode,
} from './errors.js';
