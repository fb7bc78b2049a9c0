/** The LiteEncoder family: encoder, training, default matcher and demo, built-in catalogue. */
export { LiteEncoder, defaultModelDir } from './encoder.js';
export { trainLiteEncoder } from './train.js';
export type { LiteTrainOptions } from './train.js';
export { demoCommand, matchDefault } from './demo.js';
export { catalogue, catalogueEntries } from '../catalogue/index.js';
export type { CatalogueEntry } from '../catalogue/index.js';
