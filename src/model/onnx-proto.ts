/**
 * A minimal protobuf writer for the part of onnx.proto (IR 8) that a
 * feed-forward inference graph needs: ModelProto, GraphProto, NodeProto,
 * AttributeProto, TensorProto and ValueInfoProto. Messages are built as lists
 * of byte chunks, so large initializers are never copied until the one final
 * concatenation. Field numbers follow onnx/onnx.proto3.
 */

type Chunks = { parts: Uint8Array[]; length: number };

function varint(value: number | bigint): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** Accumulates one message's fields. */
class Message {
  readonly parts: Uint8Array[] = [];
  length = 0;

  #push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }

  #tag(field: number, wire: number): void {
    this.#push(varint((field << 3) | wire));
  }

  int(field: number, v: number | bigint): this {
    this.#tag(field, 0);
    this.#push(varint(v));
    return this;
  }

  float(field: number, v: number): this {
    this.#tag(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.#push(b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.#tag(field, 2);
    this.#push(varint(b.length));
    this.#push(b);
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  message(field: number, m: Chunks): this {
    this.#tag(field, 2);
    this.#push(varint(m.length));
    for (const p of m.parts) this.#push(p);
    return this;
  }

  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const enc = values.map((v) => varint(v));
    const len = enc.reduce((a, b) => a + b.length, 0);
    this.#tag(field, 2);
    this.#push(varint(len));
    for (const e of enc) this.#push(e);
    return this;
  }
}

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, BOOL: 9 } as const;

export interface TensorValue {
  name: string;
  dims: readonly number[];
  dataType: number;
  /** Little-endian raw bytes (TensorProto.raw_data). */
  raw: Uint8Array;
}

export function floatTensor(name: string, dims: readonly number[], data: Float32Array): TensorValue {
  return { name, dims, dataType: DataType.FLOAT, raw: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): TensorValue {
  const data = BigInt64Array.from(values.map((v) => BigInt(v)));
  return { name, dims, dataType: DataType.INT64, raw: new Uint8Array(data.buffer) };
}

function tensorProto(t: TensorValue): Message {
  return new Message().packedInts(1, t.dims).int(2, t.dataType).string(8, t.name).bytes(9, t.raw);
}

export type AttributeValue = number | string | readonly number[] | { float: number } | TensorValue;

function attributeProto(name: string, v: AttributeValue): Message {
  const m = new Message().string(1, name);
  // AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, INTS 7
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use { float } for non-integers`);
    return m.int(3, v).int(20, 2);
  }
  if (typeof v === 'string') return m.string(4, v).int(20, 3);
  if (Array.isArray(v)) return m.packedInts(8, v as number[]).int(20, 7);
  if ('float' in (v as object)) return m.float(2, (v as { float: number }).float).int(20, 1);
  return m.message(5, tensorProto(v as TensorValue)).int(20, 4);
}

export interface NodeSpec {
  op: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

/** A graph input or output: element type and shape (a string is a symbolic dimension). */
export interface ValueSpec {
  name: string;
  dataType: number;
  shape: readonly (number | string)[];
}

function valueInfo(v: ValueSpec): Message {
  const shape = new Message();
  for (const d of v.shape) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
  const tensorType = new Message().int(1, v.dataType).message(2, shape);
  const type = new Message().message(1, tensorType);
  return new Message().string(1, v.name).message(2, type);
}

export interface ModelSpec {
  graphName: string;
  nodes: readonly NodeSpec[];
  initializers: readonly TensorValue[];
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  /** Opset per domain: '' (ai.onnx) is required. */
  opsets: Record<string, number>;
  producer: string;
  metadata?: Record<string, string>;
}

/** Serialises a ModelProto. Sync. */
export function encodeModel(spec: ModelSpec): Uint8Array {
  const graph = new Message();
  spec.nodes.forEach((n, i) => {
    const node = new Message();
    for (const x of n.inputs) node.string(1, x);
    for (const y of n.outputs) node.string(2, y);
    node.string(3, n.name ?? `${n.op}_${i}`).string(4, n.op);
    for (const [k, v] of Object.entries(n.attributes ?? {})) node.message(5, attributeProto(k, v));
    if (n.domain) node.string(7, n.domain);
    graph.message(1, node);
  });
  graph.string(2, spec.graphName);
  for (const t of spec.initializers) graph.message(5, tensorProto(t));
  for (const v of spec.inputs) graph.message(11, valueInfo(v));
  for (const v of spec.outputs) graph.message(12, valueInfo(v));

  const model = new Message().int(1, 8).string(2, spec.producer);
  for (const [domain, version] of Object.entries(spec.opsets)) model.message(8, new Message().string(1, domain).int(2, version));
  model.message(7, graph);
  for (const [k, v] of Object.entries(spec.metadata ?? {})) model.message(14, new Message().string(1, k).string(2, v));

  const out = new Uint8Array(model.length);
  let at = 0;
  for (const p of model.parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
