/**
 * Downloads a sentence-transformers model (such as TechWolf/JobBERT-v3) from
 * the Hugging Face hub into a local cache, in the layout JobBERT.load reads.
 *
 * The hub's conventions (huggingface_hub's hf_api.model_info and
 * file_download.get_hf_file_metadata): the file list and the commit come from
 * `GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true`; each file
 * from `GET {endpoint}/{repo}/resolve/{commit}/{path}`, where large (LFS) files
 * answer with a redirect carrying `X-Linked-Etag` (their sha256) and
 * `X-Linked-Size`, and small files answer directly with an `ETag` that is
 * their git blob sha1. Pinning every file to the commit the listing named
 * keeps a download consistent while the branch moves.
 *
 * Each file goes to `<file>.part` (resumed with an HTTP Range request when a
 * partial one is there), is checked against the size and hash the listing
 * names (the headers' where it names none; headers that name others are
 * ERR_CORRUPT), and is renamed into place; a manifest written last marks the cache complete, so
 * a later call returns without touching the network.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../util/output-file.js';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { JobBERTError } from '../errors.js';
import { assertBoolean, assertInteger, assertOptions, assertTimerMs, describe } from '../util/validate.js';
import { takePidLock } from '../util/pid-lock.js';
import { makeDirs } from '../util/make-dirs.js';

export interface DownloadProgress {
  /** Path of the file inside the model directory, '/'-separated. */
  file: string;
  /** Bytes of this file on disk so far (a resumed file starts at its partial size). */
  bytes: number;
  /** Size of this file in bytes (0 when the server did not say). */
  total: number;
}

export interface DownloadOptions {
  /** Folder holding one subfolder per model (`<owner>--<name>`). Default: $JOBBERT_CACHE, else $XDG_CACHE_HOME/jobbert/models, else ~/.cache/jobbert/models. */
  cacheDir?: string;
  /** Hub address. Default: $HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Branch, tag or commit. Default 'main'. */
  revision?: string;
  /** Also fetch `onnx/model.onnx` (as optimum exports it) when the repository has one. Default false. */
  onnx?: boolean;
  /** Ask the hub again even when the cache is complete; files whose hash still matches are kept. Default false. */
  refresh?: boolean;
  /** Further attempts, each resuming where the last stopped, after a network failure. Default 3. */
  retries?: number;
  /** How long an attempt may wait for an answer, or for the next bytes of one, before it fails (and is retried), in ms. Default 60,000. */
  idleTimeoutMs?: number;
  /** Called as bytes arrive (on the event loop, between writes). */
  onProgress?: (p: DownloadProgress) => void;
  /** The fetch to use (tests, proxies). Default: the global fetch. */
  fetch?: typeof fetch;
}

interface Expected {
  size?: number;
  sha256?: string;
  gitSha1?: string;
}

interface Sibling {
  rfilename: string;
  size?: number;
  blobId?: string;
  lfs?: { sha256?: string; size?: number };
}

interface Manifest {
  format: 1;
  repo: string;
  revision: string;
  commit: string;
  onnx: boolean;
  files: { path: string; size: number; sha256?: string; gitSha1?: string }[];
}

const MANIFEST = '.jobbert-download.json';
const LOCK = '.jobbert-download.lock';
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
/** What the loader reads beside the transformer weights (tokenizer_config/special_tokens_map are kept for other tools). */
const TRANSFORMER_FILES = [
  'config.json',
  'sentence_bert_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'model.safetensors',
];
const ONNX_FILES = ['onnx/model.onnx', 'onnx/model.onnx_data'];

const notFound = (msg: string) => new JobBERTError('ERR_NOT_FOUND', msg);
const corrupt = (msg: string) => new JobBERTError('ERR_CORRUPT', msg);

/** A network failure worth another attempt (the partial file stays for resuming). */
class Retryable extends JobBERTError {
  constructor(message: string, cause?: unknown) {
    super('ERR_NETWORK', message, cause === undefined ? undefined : { cause });
  }
}

/** The folder a model is (or would be) cached in. Sync. Throws TypeError for a malformed repo id. */
export function modelCacheDir(repo: string, cacheDir?: string): string {
  checkRepo('modelCacheDir', repo);
  const root = cacheDir ?? process.env.JOBBERT_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'jobbert', 'models');
  const [owner, name] = repo.split('/');
  return join(root, `${owner}--${name}`);
}

function checkRepo(fn: string, repo: unknown): asserts repo is string {
  if (typeof repo !== 'string' || !REPO_ID.test(repo) || repo.includes('..')) {
    throw new TypeError(`${fn}: repo must be a hub model id 'owner/name' (letters, digits, '.', '_', '-'); received ${describe(repo)}`);
  }
}

const inflight = new Map<string, Promise<unknown>>();

/**
 * Downloads `repo`'s sentence-transformers files into the cache and resolves
 * to the local model directory (ready for JobBERT.load). Async. A complete
 * cache is reused without network access. Rejects with TypeError/RangeError
 * for bad arguments and JobBERTError ERR_NOT_FOUND (HTTP 404, or a private or
 * gated repository), ERR_NETWORK (unreachable server, dropped connection after
 * the retries, unexpected status), ERR_CORRUPT (size or hash mismatch; the
 * partial file is removed), ERR_BAD_MODEL (the repository lacks a file
 * jobbert needs) or ERR_BUSY (another process is downloading into the same
 * folder); each message names the URL.
 */
export async function download(repo: string, opts: DownloadOptions = {}): Promise<string> {
  const fn = 'download';
  checkRepo(fn, repo);
  assertOptions(fn, opts);
  for (const key of ['cacheDir', 'endpoint', 'revision'] as const) {
    const v = opts[key];
    if (v !== undefined && (typeof v !== 'string' || v.length === 0))
      throw new TypeError(`${fn}: ${key} must be a non-empty string; received ${describe(v)}`);
  }
  for (const key of ['onnx', 'refresh'] as const) if (opts[key] !== undefined) assertBoolean(fn, key, opts[key]);
  const retries = opts.retries ?? 3;
  assertInteger(fn, 'retries', retries, 0, 100);
  const idleMs = opts.idleTimeoutMs ?? 60_000;
  assertTimerMs(fn, 'idleTimeoutMs', idleMs, 1);
  for (const key of ['onProgress', 'fetch'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'function')
      throw new TypeError(`${fn}: ${key} must be a function; received ${describe(opts[key])}`);
  }
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(endpoint)) throw new TypeError(`${fn}: endpoint must be an http(s) URL; received ${describe(endpoint)}`);
  const dir = modelCacheDir(repo, opts.cacheDir);
  const job: Job = {
    repo,
    dir,
    endpoint,
    retries,
    idleMs,
    revision: opts.revision ?? 'main',
    onnx: opts.onnx ?? false,
    refresh: opts.refresh ?? false,
    fetch: opts.fetch ?? globalThis.fetch,
    onProgress: opts.onProgress,
  };
  // Calls for one folder in this process run one after another (the second usually finds the cache complete).
  const before = inflight.get(dir) ?? Promise.resolve();
  const run = before.catch(() => undefined).then(() => runJob(job));
  inflight.set(dir, run);
  try {
    return await run;
  } finally {
    if (inflight.get(dir) === run) inflight.delete(dir);
  }
}

interface Job {
  repo: string;
  dir: string;
  endpoint: string;
  revision: string;
  onnx: boolean;
  refresh: boolean;
  retries: number;
  idleMs: number;
  fetch: typeof fetch;
  onProgress?: (p: DownloadProgress) => void;
}

async function runJob(job: Job): Promise<string> {
  if (!job.refresh && (await completeCache(job))) return job.dir;
  let unlock: () => Promise<void>;
  try {
    await makeDirs(job.dir);
    unlock = await lock(job.dir);
  } catch (e) {
    if (e instanceof JobBERTError) throw e;
    throw new JobBERTError(
      'ERR_IO',
      `download: cannot write the cache folder ${job.dir} (${(e as Error).message}); choose another with cacheDir (--cache-dir) or JOBBERT_CACHE`,
      { cause: e },
    );
  }
  try {
    await rm(join(job.dir, MANIFEST), { force: true });
    const { commit, siblings } = await withRetries(job, () => modelInfo(job));
    const manifest: Manifest = { format: 1, repo: job.repo, revision: job.revision, commit, onnx: job.onnx, files: [] };
    const fetchOne = async (path: string): Promise<boolean> => {
      const expected = expectedFromSibling(siblings.get(path));
      const { changed, size, hash } = await fetchFile(job, commit, path, expected);
      manifest.files.push({ path, size, ...hash });
      return changed;
    };

    // modules.json says where the modules live; without it the repo is a plain transformer (mean pooling).
    let modules: { type: string; path: string }[] = [{ type: 'Transformer', path: '' }];
    if (siblings.has('modules.json')) {
      await fetchOne('modules.json');
      modules = await readModules(join(job.dir, 'modules.json'));
    }
    const files = selectFiles(job, commit, siblings, modules);
    let weightsChanged = false;
    for (const f of files.list) {
      const changed = await fetchOne(f);
      if (f === files.weights) weightsChanged ||= changed;
    }
    // A graph that JobBERT.load converted from the previous weights would shadow the new ones.
    if (weightsChanged) {
      for (const stale of ['onnx/model.onnx', 'onnx/model_quantized.onnx'].map((f) => join(files.transformerDir, f))) {
        if (!files.list.some((f) => join(job.dir, f) === stale)) await rm(stale, { force: true });
      }
    }
    await writeFileAtomic(join(job.dir, MANIFEST), JSON.stringify(manifest, null, 2));
    return job.dir;
  } finally {
    await unlock();
  }
}

/** True when the manifest of a finished download for this repo/revision is there and every file it lists has its size. */
async function completeCache(job: Job): Promise<boolean> {
  let m: Manifest;
  try {
    m = JSON.parse(await readFile(join(job.dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return false;
  }
  if (m.format !== 1 || m.repo !== job.repo || (m.revision !== job.revision && m.commit !== job.revision) || (job.onnx && !m.onnx))
    return false;
  if (!Array.isArray(m.files) || m.files.length === 0) return false;
  for (const f of m.files) {
    try {
      if ((await stat(join(job.dir, f.path))).size !== f.size) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Takes the folder's lock file (holding our pid); a lock left by a process that no longer runs is taken over. */
function lock(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, LOCK);
  return takePidLock(path, {
    busy: (holder) =>
      new JobBERTError(
        'ERR_BUSY',
        `download: ${holder === 'this process' ? 'another download of this process' : typeof holder === 'number' ? `process ${holder}` : holder} is downloading into ${dir} (remove ${path} if it is not)`,
      ),
    io: (e) => e,
  });
}

async function withRetries<T>(job: Job, attempt: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof Retryable) || i >= job.retries) throw e;
      await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** i, 5000)));
    }
  }
}

/**
 * fetch with network failures (refused, reset, DNS, TLS, no answer within
 * job.idleMs) as retryable ERR_NETWORK naming the URL. `init.signal` also
 * aborts the body, which the caller then watches.
 */
async function request(job: Job, url: string, init: RequestInit): Promise<Response> {
  const waited = new AbortController();
  const timer = setTimeout(() => waited.abort(), job.idleMs);
  try {
    return await job.fetch(url, { ...init, signal: init.signal ? AbortSignal.any([init.signal, waited.signal]) : waited.signal });
  } catch (e) {
    // init.signal too is an idle timer of the caller's (the listing's whole answer, a file's next bytes).
    if (waited.signal.aborted || init.signal?.aborted) throw new Retryable(`download: ${url} sent no answer for ${job.idleMs / 1000} s`, e);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (e as Error).message;
    throw new Retryable(`download: cannot reach ${url}: ${why}`, e);
  } finally {
    clearTimeout(timer);
  }
}

/** Maps an HTTP failure to a JobBERTError naming the URL; 5xx and 429 are retryable. */
function httpError(res: Response, url: string, what: string): JobBERTError {
  const s = res.status;
  if (s === 404) return notFound(`download: ${what} not found (HTTP 404 from ${url})`);
  if (s === 401 || s === 403)
    return notFound(`download: ${what} not found, private or gated (HTTP ${s} from ${url}); jobbert downloads public repositories only`);
  if (s === 429 || s >= 500) return new Retryable(`download: HTTP ${s} from ${url}`);
  return new JobBERTError('ERR_NETWORK', `download: unexpected HTTP ${s} from ${url}`);
}

async function modelInfo(job: Job): Promise<{ commit: string; siblings: Map<string, Sibling> }> {
  const url = `${job.endpoint}/api/models/${job.repo}/revision/${encodeURIComponent(job.revision)}?blobs=true`;
  // The listing is small: its whole body must come within the idle timeout (a stalled one waited undici's 300 s an attempt).
  const stalled = new AbortController();
  const timer = setTimeout(() => stalled.abort(), job.idleMs);
  let info: { sha?: unknown; siblings?: unknown } | null;
  try {
    const res = await request(job, url, { headers: { Accept: 'application/json' }, signal: stalled.signal });
    if (!res.ok) {
      await res.body?.cancel();
      throw httpError(res, url, `repository ${job.repo} at revision '${job.revision}'`);
    }
    try {
      info = (await res.json()) as typeof info;
    } catch (e) {
      if (stalled.signal.aborted) throw new Retryable(`download: ${url} stopped sending its file list for ${job.idleMs / 1000} s`, e);
      throw new Retryable(`download: ${url} did not answer with JSON: ${(e as Error).message}`, e);
    }
  } finally {
    clearTimeout(timer);
  }
  if (typeof info !== 'object' || info === null || !Array.isArray(info.siblings))
    throw new JobBERTError(
      'ERR_NETWORK',
      `download: ${url} answered without a "siblings" file list; is ${job.endpoint} a Hugging Face hub?`,
    );
  const siblings = new Map<string, Sibling>();
  for (const s of info.siblings as Sibling[]) if (s && typeof s.rfilename === 'string') siblings.set(s.rfilename, s);
  const commit = typeof info.sha === 'string' && /^[0-9a-f]{40}$/.test(info.sha) ? info.sha : job.revision;
  return { commit, siblings };
}

async function readModules(path: string): Promise<{ type: string; path: string }[]> {
  let list: unknown;
  try {
    list = JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new JobBERTError('ERR_BAD_MODEL', `download: ${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
  if (!Array.isArray(list)) throw new JobBERTError('ERR_BAD_MODEL', `download: ${path} must hold an array of modules`);
  return list.map((m: { type?: unknown; path?: unknown }) => ({
    type: typeof m?.type === 'string' ? m.type.replace(/^sentence_transformers\.models\./, '') : '',
    path: typeof m?.path === 'string' ? m.path.replace(/^\.?\/+|\/+$/g, '') : '',
  }));
}

/** The hub paths to fetch: the transformer's files and every config and weight file under the other modules' folders. */
function selectFiles(job: Job, commit: string, siblings: Map<string, Sibling>, modules: { type: string; path: string }[]) {
  const prefixOf = (p: string) => (p === '' ? '' : `${p}/`);
  const transformer = modules.find((m) => m.type === 'Transformer') ?? { type: 'Transformer', path: '' };
  const t = prefixOf(transformer.path);
  const where = `${job.repo} at ${commit === job.revision ? `revision '${job.revision}'` : `commit ${commit}`} (${job.endpoint})`;
  const list: string[] = [];
  const add = (f: string) => {
    if (siblings.has(f) && !list.includes(f)) list.push(f);
  };
  add('config_sentence_transformers.json');
  for (const f of TRANSFORMER_FILES) add(t + f);
  if (job.onnx) {
    if (!siblings.has(`${t}onnx/model.onnx`))
      throw notFound(`download: ${where} has no ${t}onnx/model.onnx (leave out --onnx; jobbert converts model.safetensors itself)`);
    for (const f of ONNX_FILES) add(t + f);
  }
  for (const need of ['config.json', 'tokenizer.json']) {
    if (!siblings.has(t + need)) throw new JobBERTError('ERR_BAD_MODEL', `download: ${where} has no ${t}${need}, which jobbert needs`);
  }
  if (!siblings.has(`${t}model.safetensors`) && !job.onnx) {
    const other = [...siblings.keys()].find((f) => f.startsWith(`${t}model.safetensors.index`) || f === `${t}pytorch_model.bin`);
    throw new JobBERTError(
      'ERR_BAD_MODEL',
      `download: ${where} has no ${t}model.safetensors${other ? ` (only ${other}, which jobbert cannot read)` : ''}`,
    );
  }
  for (const m of modules) {
    if (m === transformer || m.path === '') continue;
    const prefix = prefixOf(m.path);
    for (const f of siblings.keys()) if (f.startsWith(prefix) && /\.(json|safetensors)$/.test(f)) add(f);
  }
  for (const f of list) {
    const parts = f.split('/');
    if (f.includes('\\') || f.startsWith('/') || parts.some((p) => p === '' || p === '.' || p === '..')) {
      throw new JobBERTError('ERR_BAD_MODEL', `download: ${where} lists a file with an unsafe path: ${JSON.stringify(f)}`);
    }
  }
  // small files first: a broken repository fails before the large download
  const sizeOf = (f: string) =>
    siblings.get(f)?.lfs?.size ?? siblings.get(f)?.size ?? (/\.(safetensors|onnx|onnx_data)$/.test(f) ? Infinity : 0);
  list.sort((a, b) => sizeOf(a) - sizeOf(b) || (a < b ? -1 : 1));
  return { list, weights: `${t}model.safetensors`, transformerDir: join(job.dir, ...transformer.path.split('/').filter(Boolean)) };
}

function expectedFromSibling(s: Sibling | undefined): Expected {
  if (!s) return {};
  if (s.lfs && typeof s.lfs.sha256 === 'string') return { size: s.lfs.size ?? s.size, sha256: s.lfs.sha256.toLowerCase() };
  return { size: s.size, gitSha1: typeof s.blobId === 'string' && /^[0-9a-f]{40}$/i.test(s.blobId) ? s.blobId.toLowerCase() : undefined };
}

/** An ETag as the hub sends it (`"…"` or `W/"…"`) → the hash it names, when it is one. */
function hashFromEtag(etag: string | null): Pick<Expected, 'sha256' | 'gitSha1'> {
  const v = (etag ?? '').trim().replace(/^W\//, '').replace(/^"|"$/g, '').toLowerCase();
  if (/^[0-9a-f]{64}$/.test(v)) return { sha256: v };
  if (/^[0-9a-f]{40}$/.test(v)) return { gitSha1: v };
  return {};
}

/** A hasher for what `expected` names: sha256 (LFS files) or git's blob sha1 (sha1 of `blob <size>\0` + bytes). */
function hasher(expected: Expected, size: number): { hash: Hash; want: string; kind: 'sha256' | 'gitSha1' } | null {
  if (expected.sha256) return { hash: createHash('sha256'), want: expected.sha256, kind: 'sha256' };
  if (expected.gitSha1) return { hash: createHash('sha1').update(`blob ${size}\0`), want: expected.gitSha1, kind: 'gitSha1' };
  return null;
}

async function hashInto(h: Hash, path: string, end?: number): Promise<void> {
  if (end === 0) return;
  for await (const chunk of createReadStream(path, end === undefined ? {} : { end: end - 1 })) h.update(chunk as Buffer);
}

/** Fetches one file into place unless an identical copy is already there. Resolves to whether it was (re)written. */
async function fetchFile(
  job: Job,
  commit: string,
  path: string,
  fromListing: Expected,
): Promise<{ changed: boolean; size: number; hash: Pick<Expected, 'sha256' | 'gitSha1'> }> {
  const final = join(job.dir, ...path.split('/'));
  const existing = await stat(final).catch(() => null);
  if (existing && fromListing.size === existing.size) {
    const h = hasher(fromListing, existing.size);
    if (h) {
      await hashInto(h.hash, final);
      if (h.hash.digest('hex') === h.want) return { changed: false, size: existing.size, hash: { [h.kind]: h.want } };
    }
  }
  await makeDirs(dirname(final));
  const url = `${job.endpoint}/${job.repo}/resolve/${encodeURIComponent(commit)}/${path.split('/').map(encodeURIComponent).join('/')}`;
  const done = await withRetries(job, () => transfer(job, url, path, final, fromListing));
  return { changed: true, ...done };
}

/** One attempt at `url` → `final`: resumes `final.part`, verifies, renames. */
async function transfer(
  job: Job,
  url: string,
  path: string,
  final: string,
  fromListing: Expected,
): Promise<{ size: number; hash: Pick<Expected, 'sha256' | 'gitSha1'> }> {
  const part = `${final}.part`;
  let offset = (await stat(part).catch(() => null))?.size ?? 0;
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity' }; // sizes must be the file's, not a compressed body's
  if (offset > 0) headers.Range = `bytes=${offset}-`;

  // Follow redirects by hand: the hub's own hops carry the file's hash and size, the CDN's do not.
  const hub = new URL(job.endpoint).origin;
  let linkedEtag: string | null = null;
  let linkedSize: string | null = null;
  let hubEtag: string | null = null;
  let at = url;
  let res: Response;
  const idle = new AbortController();
  for (let hops = 0; ; hops++) {
    res = await request(job, at, { headers, redirect: 'manual', signal: idle.signal });
    if (new URL(at).origin === hub) {
      linkedEtag ??= res.headers.get('x-linked-etag');
      linkedSize ??= res.headers.get('x-linked-size');
      hubEtag = res.headers.get('etag') ?? hubEtag;
    }
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || !location) break;
    await res.body?.cancel();
    if (hops >= 10) throw new JobBERTError('ERR_NETWORK', `download: too many redirects from ${url}`);
    at = new URL(location, at).toString();
  }
  if (res.status === 416 && offset > 0) {
    // the partial file is not a prefix of this file (or already whole): start again
    await res.body?.cancel();
    await rm(part, { force: true });
    return transfer(job, url, path, final, fromListing);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw httpError(res, at === url ? url : `${url} (via ${at})`, `file ${path}`);
  }

  let total: number | undefined;
  if (res.status === 206) {
    const range = res.headers.get('content-range');
    const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(range ?? '');
    if (!m || Number(m[1]) !== offset) {
      await res.body?.cancel();
      // Asked from byte 0, a part of something else is no answer (it was asked again and again, forever).
      if (offset === 0)
        throw new Retryable(
          `download: ${url} answered a request for all of ${path} with a part of it (HTTP 206, Content-Range: ${range ?? 'none'})`,
        );
      await rm(part, { force: true });
      return transfer(job, url, path, final, fromListing);
    }
    if (m[3] !== '*') total = Number(m[3]);
  } else if (offset > 0) {
    // a server that ignores Range sends the whole file: take it from the start
    await rm(part, { force: true });
    offset = 0;
  }
  const length = res.headers.get('content-length');
  total ??= length !== null ? offset + Number(length) : undefined;
  const sizes = [linkedSize === null ? undefined : Number(linkedSize), total, fromListing.size].filter(
    (v): v is number => v !== undefined && Number.isSafeInteger(v),
  );
  const size = sizes[0];
  if (size !== undefined && sizes.some((s) => s !== size)) {
    await res.body?.cancel();
    throw corrupt(`download: ${url}: the server gives conflicting sizes for ${path} (${[...new Set(sizes)].join(' vs ')} bytes)`);
  }
  // The listing names what the commit holds; a header that names another hash of the same kind is another file
  // (its bytes, checked against the header alone, were taken), as a conflicting size is.
  const fromHeaders = hashFromEtag(linkedEtag ?? hubEtag);
  for (const kind of ['sha256', 'gitSha1'] as const) {
    if (fromHeaders[kind] && fromListing[kind] && fromHeaders[kind] !== fromListing[kind]) {
      await res.body?.cancel();
      throw corrupt(
        `download: ${url}: the server gives conflicting hashes for ${path} (${kind === 'sha256' ? 'sha256' : 'git blob sha1'} ${fromHeaders[kind]} in its headers, ${fromListing[kind]} in the file list)`,
      );
    }
  }
  const expected: Expected = { ...(fromListing.sha256 || fromListing.gitSha1 ? fromListing : fromHeaders), size };

  const h = size === undefined ? null : hasher(expected, size);
  if (h && offset > 0) await hashInto(h.hash, part, offset);
  const file = await open(part, 'a');
  let bytes = offset;
  let overflow = false;
  let timer = setTimeout(() => idle.abort(), job.idleMs);
  try {
    job.onProgress?.({ file: path, bytes, total: size ?? 0 });
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), job.idleMs);
        if (size !== undefined && bytes + chunk.length > size) {
          overflow = true; // longer than announced
          break;
        }
        await file.write(chunk);
        h?.hash.update(chunk);
        bytes += chunk.length;
        job.onProgress?.({ file: path, bytes, total: size ?? 0 });
      }
    }
    await file.sync();
  } catch (e) {
    if (e instanceof JobBERTError) throw e;
    const why = idle.signal.aborted
      ? `no data for ${job.idleMs / 1000} s`
      : ((e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message);
    throw new Retryable(`download: the transfer of ${url} broke off at byte ${bytes}${size ? ` of ${size}` : ''}: ${why}`, e);
  } finally {
    clearTimeout(timer);
    await file.close();
  }

  const written = (await stat(part)).size;
  if (overflow || (size !== undefined && written !== size)) {
    await rm(part, { force: true });
    throw corrupt(`download: ${url}: expected ${size} bytes of ${path} but the server sent ${overflow ? 'more' : written}`);
  }
  let hash: Pick<Expected, 'sha256' | 'gitSha1'> = {};
  const check = h ?? hasher(expected, written);
  if (check) {
    if (!h) await hashInto(check.hash, part);
    const got = check.hash.digest('hex');
    if (got !== check.want) {
      await rm(part, { force: true });
      throw corrupt(
        `download: ${url}: ${path} is corrupt (${check.kind === 'sha256' ? 'sha256' : 'git blob sha1'} ${got}, expected ${check.want})`,
      );
    }
    hash = { [check.kind]: got };
  }
  await rename(part, final);
  return { size: written, hash };
}
