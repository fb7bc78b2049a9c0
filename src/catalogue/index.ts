/**
 * The built-in catalogue: common job titles, each in English, German, Spanish
 * and Chinese, written for jobbert (not copied from ESCO or any other
 * dataset), grouped by field. `jobbert demo` and `jobbert match` search it
 * when no index or corpus is given.
 */
import business from './data/business.js';
import creative from './data/creative.js';
import education from './data/education.js';
import office from './data/office.js';
import health from './data/health.js';
import sales from './data/sales.js';
import services from './data/services.js';
import tech from './data/tech.js';
import trades from './data/trades.js';
import transport from './data/transport.js';

export type CatalogueLang = 'en' | 'de' | 'es' | 'zh';
export const CATALOGUE_LANGS: readonly CatalogueLang[] = ['en', 'de', 'es', 'zh'];

export interface CatalogueEntry {
  /** Stable id: `<field>/<english-slug>`. */
  id: string;
  field: string;
  en: string;
  de: string;
  es: string;
  zh: string;
}

const FIELDS: Record<string, string> = { tech, health, business, sales, trades, services, education, transport, creative, office };

const slug = (s: string) =>
  s
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^a-z0-9+#]+/g, '-')
    .replace(/^-|-$/g, '');

function parse(field: string, text: string): CatalogueEntry[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const parts = line.split('|').map((s) => s.trim());
      if (parts.length !== 4 || parts.some((p) => !p)) throw new Error(`catalogue ${field}: malformed line ${JSON.stringify(line)}`);
      const [en, de, es, zh] = parts;
      return { id: `${field}/${slug(en)}`, field, en, de, es, zh };
    });
}

/** Every catalogue entry, fields in a fixed order. */
export const catalogue: readonly CatalogueEntry[] = Object.freeze(Object.entries(FIELDS).flatMap(([f, t]) => parse(f, t)));

/** The catalogue as MatchIndex entries: one per title and language (id `<entry id>#<lang>`). */
export function catalogueEntries(langs: readonly CatalogueLang[] = CATALOGUE_LANGS): { id: string; text: string; lang: string }[] {
  return catalogue.flatMap((c) => langs.map((lang) => ({ id: `${c.id}#${lang}`, text: c[lang], lang })));
}
