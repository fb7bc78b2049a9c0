/**
 * The service's Prometheus metrics, in the text exposition format (0.0.4):
 * request counts by route and status, request latency and batch size
 * histograms, requests in flight, queue depth and process memory. Label sets
 * are bounded: routes are the known paths (anything else is 'other').
 */
import { memoryReleases } from './idle-memory.js';

const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;

  constructor(readonly buckets: number[]) {
    this.counts = new Array(buckets.length).fill(0);
  }

  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }

  lines(name: string, labels: string): string[] {
    const sep = labels ? `${labels},` : '';
    const out = this.buckets.map((b, i) => `${name}_bucket{${sep}le="${b}"} ${this.counts[i]}`);
    out.push(`${name}_bucket{${sep}le="+Inf"} ${this.count}`);
    const plain = labels ? `{${labels}}` : '';
    out.push(`${name}_sum${plain} ${this.sum}`, `${name}_count${plain} ${this.count}`);
    return out;
  }
}

const escapeLabel = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();
  readonly #batches = new Map<string, Histogram>();
  readonly #started = Date.now();
  inFlight = 0;
  /** Read at scrape time: items waiting in each batcher. */
  queued: () => Record<string, number> = () => ({});

  /** Counts one finished request and its latency in seconds. */
  request(route: string, method: string, status: number, seconds: number): void {
    const key = `route="${escapeLabel(route)}",method="${escapeLabel(method)}",status="${status}"`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let h = this.#latency.get(route);
    if (!h) this.#latency.set(route, (h = new Histogram(LATENCY_BUCKETS)));
    h.observe(seconds);
  }

  /** Counts one call of a batched operation ('match', 'encode', 'skills') with `items` queries. */
  batch(op: string, items: number): void {
    let h = this.#batches.get(op);
    if (!h) this.#batches.set(op, (h = new Histogram(BATCH_BUCKETS)));
    h.observe(items);
  }

  /** The exposition text. */
  render(extra: { entries: number; dim: number; version?: string }): string {
    const out: string[] = [];
    out.push(
      '# HELP jobbert_http_requests_total HTTP requests answered, by route, method and status.',
      '# TYPE jobbert_http_requests_total counter',
    );
    for (const [labels, n] of this.#requests) out.push(`jobbert_http_requests_total{${labels}} ${n}`);
    out.push(
      '# HELP jobbert_http_request_duration_seconds Time from request arrival to the end of the response.',
      '# TYPE jobbert_http_request_duration_seconds histogram',
    );
    for (const [route, h] of this.#latency) out.push(...h.lines('jobbert_http_request_duration_seconds', `route="${escapeLabel(route)}"`));
    out.push(
      '# HELP jobbert_batch_size Queries (or texts) per call of the encoder and index, by operation.',
      '# TYPE jobbert_batch_size histogram',
    );
    for (const [op, h] of this.#batches) out.push(...h.lines('jobbert_batch_size', `op="${escapeLabel(op)}"`));
    out.push(
      '# HELP jobbert_http_requests_in_flight Requests received and not yet answered.',
      '# TYPE jobbert_http_requests_in_flight gauge',
      `jobbert_http_requests_in_flight ${this.inFlight}`,
    );
    out.push('# HELP jobbert_batch_queue_items Queries waiting for a batch, by operation.', '# TYPE jobbert_batch_queue_items gauge');
    for (const [op, n] of Object.entries(this.queued())) out.push(`jobbert_batch_queue_items{op="${escapeLabel(op)}"} ${n}`);
    out.push(
      '# HELP jobbert_index_entries Entries in the served index.',
      '# TYPE jobbert_index_entries gauge',
      `jobbert_index_entries ${extra.entries}`,
    );
    out.push(
      '# HELP jobbert_index_dim Vector dimension of the served index.',
      '# TYPE jobbert_index_dim gauge',
      `jobbert_index_dim ${extra.dim}`,
    );
    if (extra.version !== undefined)
      out.push(
        '# HELP jobbert_index_info The published index version served (from NATS).',
        '# TYPE jobbert_index_info gauge',
        `jobbert_index_info{version="${escapeLabel(extra.version)}"} 1`,
      );
    const mem = process.memoryUsage();
    out.push(
      '# HELP process_resident_memory_bytes Resident memory size in bytes.',
      '# TYPE process_resident_memory_bytes gauge',
      `process_resident_memory_bytes ${mem.rss}`,
    );
    out.push(
      '# HELP nodejs_heap_used_bytes V8 heap in use, in bytes.',
      '# TYPE nodejs_heap_used_bytes gauge',
      `nodejs_heap_used_bytes ${mem.heapUsed}`,
    );
    out.push(
      '# HELP nodejs_external_memory_bytes Memory held outside the V8 heap (buffers, native data), in bytes.',
      '# TYPE nodejs_external_memory_bytes gauge',
      `nodejs_external_memory_bytes ${mem.external}`,
    );
    const { releases, releasedBytes } = memoryReleases();
    out.push(
      '# HELP jobbert_memory_releases_total Times an idle server handed memory back to the system after a burst.',
      '# TYPE jobbert_memory_releases_total counter',
      `jobbert_memory_releases_total ${releases}`,
      '# HELP jobbert_memory_released_bytes_total Resident memory those releases handed back, in bytes.',
      '# TYPE jobbert_memory_released_bytes_total counter',
      `jobbert_memory_released_bytes_total ${releasedBytes}`,
    );
    out.push(
      '# HELP process_start_time_seconds Start time of the service since the Unix epoch, in seconds.',
      '# TYPE process_start_time_seconds gauge',
      `process_start_time_seconds ${Math.floor(this.#started / 1000)}`,
    );
    return `${out.join('\n')}\n`;
  }
}
