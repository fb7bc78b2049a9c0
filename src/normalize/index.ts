/** Normalising job titles to ESCO occupations: the Normalizer, its taxonomy, examples and calibration. */
export {
  Normalizer,
  type NormalizeAlternative,
  type NormalizeMatched,
  type NormalizeOptions,
  type NormalizeResult,
  type NormalizerOptions,
  type NormalizerSearch,
  type StreamTitle,
} from './normalizer.js';
export { builtinTaxonomyDir, loadBuiltinTaxonomy, readTaxonomy, type Taxonomy, type TaxonomyOccupation } from './taxonomy.js';
export { cleanTitle } from './clean.js';
export { readExamples, type Example, type SkippedExample } from './examples.js';
export {
  builtinCalibration,
  readCalibration,
  expectedCalibrationError,
  fitLogistic,
  type Calibration,
  type CalibrationModel,
  type ConfidenceFeatures,
  type MatchKind,
} from './calibration.js';
export {
  fitCalibration,
  type CalibrationFigures,
  type CalibrationFit,
  type FitCalibrationOptions,
  MIN_CALIBRATION_TITLES,
} from './fit-calibration.js';
export { readRows, detectFormat, pickColumn, type Row, type RowFormat } from './rows.js';
