/** The addon's embedding-bag entry points (bindings/lite.cpp), typed once. */
import { addon, type MatrixArg } from '../binding.js';

export interface LiteAddon {
  embeddingBag(table: MatrixArg, ids: Int32Array, offsets: Int32Array): Promise<Float32Array>;
  embeddingBagSync(table: Float32Array, cols: number, ids: Int32Array, offsets: Int32Array): Float32Array;
  embeddingBagBackward(gradOut: MatrixArg, ids: Int32Array, offsets: Int32Array, tableRows: number): Promise<{ ids: Int32Array; grads: Float32Array }>;
}

export const lite = addon as unknown as LiteAddon;
