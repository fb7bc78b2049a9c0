/** The one assertion the suites use for a rejected JobBERTError. */
import assert from 'node:assert/strict';
import { JobBERTError } from '../src/index.js';

/**
 * Asserts that `p` rejects with a JobBERTError of `code` whose message holds
 * every pattern (a string it includes, or a RegExp it matches); returns the error.
 */
export async function rejectsWith(p: Promise<unknown>, code: string, ...patterns: (RegExp | string | undefined)[]): Promise<JobBERTError> {
  let rejected = false;
  let caught: unknown;
  try {
    await p;
  } catch (e) {
    rejected = true;
    caught = e;
  }
  assert.ok(rejected, `expected a rejection with ${code}`);
  assert.ok(caught instanceof JobBERTError, `expected JobBERTError ${code}; got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const pat of patterns) {
    if (typeof pat === 'string')
      assert.ok(caught.message.includes(pat), `message ${JSON.stringify(caught.message)} lacks ${JSON.stringify(pat)}`);
    else if (pat) assert.match(caught.message, pat);
  }
  return caught;
}
