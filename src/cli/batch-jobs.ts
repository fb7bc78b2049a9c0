/** `jobbert batch list` and `jobbert batch remove`: the batch jobs a broker holds, and removing an abandoned one. */
import { listJobs, removeJob, type JobSummary } from '../cluster/job-admin.js';
import { JOB_NAME } from '../cluster/jobs.js';
import { parseArgs, UsageError } from './args.js';

type Out = (line: string) => void;

const size = (bytes: number) =>
  bytes < 1 << 10 ? `${bytes} B` : bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;

function jobLine(j: JobSummary): string {
  const chunks = `${j.chunksDone}/${j.chunks ?? '?'} chunks done${j.chunksFailed ? ` (${j.chunksFailed} failed)` : ''}`;
  const who = j.submitter ? `; submitter pid ${j.submitter.pid} on ${j.submitter.host}, last renewed ${j.submitter.secondsAgo} s ago` : '';
  const rows = j.rows === null ? '' : `, ${j.rows} rows`;
  return `${j.job}: ${j.task ?? 'no settings recorded'}${rows}, ${j.state}: ${chunks}, ${j.queued} queued, ${size(j.bytes)} stored${who}${j.created ? `; created ${j.created}` : ''}`;
}

/** `jobbert batch list|remove ...`: resolves with the exit status. */
export async function batchJobsCommand(sub: 'list' | 'remove', argv: string[], out: Out): Promise<number> {
  const { options: o, positionals } = parseArgs(argv, { options: { nats: 'string', job: 'string', json: 'boolean' } });
  if (positionals.length) throw new UsageError(`batch ${sub} takes no positional arguments; received '${positionals[0]}'`);
  if (!o.nats) throw new UsageError(`batch ${sub} needs --nats URL`);
  if (sub === 'list') {
    if (o.job !== undefined) throw new UsageError('batch list takes no --job: it lists every job');
    const jobs = await listJobs({ nats: o.nats as string });
    if (o.json) out(JSON.stringify({ jobs }));
    else if (jobs.length === 0) out(`no batch jobs on ${o.nats as string}`);
    else for (const j of jobs) out(jobLine(j));
    return 0;
  }
  if (o.job === undefined) throw new UsageError('batch remove needs --job NAME (jobbert batch list shows the jobs)');
  if (!JOB_NAME.test(o.job as string)) throw new UsageError(`--job must be 1 to 64 letters, digits, _ or -; received '${o.job as string}'`);
  const r = await removeJob({ nats: o.nats as string, job: o.job as string });
  if (o.json) out(JSON.stringify(r));
  else {
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    out(`removed job ${r.job}: ${plural(r.queued, 'queued chunk')} and its store (${plural(r.results, 'result')}, ${size(r.bytes)})`);
  }
  return 0;
}
