import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { preprocessText, pythonStrip } from '../src/index.js';
import { isPythonWhitespace, pythonLower } from '../src/encoders/preprocess.js';
import { PYTHON_SPACES, referenceStrip } from './fixtures/python-text.js';

describe("Python's str.strip() and str.lower()", () => {
  it('strips exactly the characters Python strips, at both ends, for every code point', () => {
    const spaces = new Set(PYTHON_SPACES);
    const wrong: string[] = [];
    for (let c = 0; c < 0x110000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCodePoint(c);
      const want = spaces.has(c) ? 'a b' : `${ch}a b${ch}`;
      const padded = `${ch}a b${ch}`;
      if (pythonStrip(padded) !== want || referenceStrip(padded) !== want || isPythonWhitespace(c) !== spaces.has(c))
        wrong.push(c.toString(16));
    }
    assert.deepEqual(wrong, [], 'code points handled unlike Python');
  });

  it('differs from JavaScript trim() where Python does: U+001C–U+001F and U+0085 go, U+FEFF stays; U+200B stays for both', () => {
    for (const c of ['\x1c', '\x1d', '\x1e', '\x1f', '\x85']) {
      assert.equal(pythonStrip(`${c}Data Scientist${c}`), 'Data Scientist', JSON.stringify(c));
      assert.notEqual(`${c}x`.trim(), 'x', `JavaScript's trim() keeps ${JSON.stringify(c)}`);
    }
    assert.equal(pythonStrip('\ufeffData Scientist\ufeff'), '\ufeffData Scientist\ufeff');
    assert.equal('\ufeffx'.trim(), 'x', "JavaScript's trim() strips U+FEFF");
    assert.equal(pythonStrip('\u200bData\u200b'), '\u200bData\u200b');
  });

  it('keeps inner whitespace, empties all-whitespace strings, returns the same string when there is nothing to strip', () => {
    assert.equal(pythonStrip('  Data  Scientist\t\n'), 'Data  Scientist');
    assert.equal(pythonStrip(' \t\n\u3000\xa0\x1f '), '');
    assert.equal(pythonStrip(''), '');
    const s = 'Data Scientist';
    assert.equal(pythonStrip(s), s);
    // a long inner whitespace run is scanned once from each end (a trailing-whitespace regex would backtrack over it)
    const long = `a${' '.repeat(200_000)}b${' '.repeat(10)}`;
    assert.equal(pythonStrip(long), long.slice(0, -10));
  });

  it('lower-cases as str.lower(): full mappings, dotted capital I, final sigma', () => {
    assert.equal(pythonLower('İSTANBUL'), 'i\u0307stanbul');
    assert.equal(pythonLower('ΟΔΟΣ ΣΑΣ'), 'οδος σας');
    assert.equal(pythonLower('STRAẞE'), 'straße');
    assert.equal(preprocessText('  DATA Scientist\x1f', { lowerCase: true }), 'data scientist');
    assert.equal(preprocessText('  DATA Scientist\x1f', { lowerCase: false }), 'DATA Scientist');
    assert.equal(preprocessText(' \t ', { lowerCase: true }), '');
  });

  it('agrees with the python3 on this machine, when there is one', (t) => {
    const texts = [
      '  Data Scientist  ',
      '\tData Scientist\n',
      '\xa0Data Scientist\xa0',
      '\u3000Data Scientist\u3000',
      '\x1fData Scientist\x1c',
      '\ufeffData Scientist',
      '\u200bData Scientist\u200b',
      'Data  Scientist',
      ' \t\n\u3000 ',
      '\x85İSTANBUL ΟΔΟΣ\u2029',
      'Krankenpfleger (m/w/d)\u205f',
    ];
    const py = spawnSync(
      'python3',
      ['-c', 'import json,sys; print(json.dumps([[s.strip(), s.strip().lower()] for s in json.load(sys.stdin)]))'],
      {
        input: JSON.stringify(texts),
        encoding: 'utf8',
      },
    );
    if (py.error || py.status !== 0) {
      t.skip('python3 is not available here');
      return;
    }
    const want = JSON.parse(py.stdout) as [string, string][];
    const isspace = spawnSync('python3', ['-c', 'print([c for c in range(0x110000) if chr(c).isspace()])'], { encoding: 'utf8' });
    assert.deepEqual(JSON.parse(isspace.stdout), PYTHON_SPACES, "this python3's str.isspace() set");
    texts.forEach((s, i) => {
      assert.equal(preprocessText(s, { lowerCase: false }), want[i][0], JSON.stringify(s));
      assert.equal(preprocessText(s, { lowerCase: true }), want[i][1], JSON.stringify(s));
    });
  });
});
