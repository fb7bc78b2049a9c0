/**
 * Vacancy-style noise for training the LiteEncoder on clean ESCO labels: turns
 * "software developer" into what job boards print, e.g. "Sr. Software Developer
 * (m/w/d) – Berlin", "Softwareentwickler/in", "camarero/a", "Admin Asst",
 * "sofware develper". The patterns come from general knowledge of vacancy
 * titles (seniority words, gender suffixes and forms, abbreviations, work
 * modes, locations, typos), not from any evaluation set.
 *
 * Casing is not varied: the LiteEncoder's features lower-case (NFKC) every
 * word, so a casing change cannot reach the model. Everything is driven by the
 * caller's seeded `random`, so a seed gives the same noisy titles.
 */

export type AugmentLang = 'en' | 'de' | 'es';

const SENIORITY: Record<AugmentLang, string[]> = {
  en: [
    'Senior',
    'Sr.',
    'Sr',
    'Junior',
    'Jr.',
    'Jr',
    'Lead',
    'Principal',
    'Experienced',
    'Entry Level',
    'Graduate',
    'Trainee',
    'Mid-Level',
    'Staff',
  ],
  de: ['Senior', 'Junior', 'Sr.', 'Jr.', 'Lead', 'Erfahrener', 'Leitender', 'Trainee', 'Berufseinsteiger', 'Quereinsteiger'],
  es: ['Senior', 'Junior', 'Sr.', 'Jr.', 'Lead', 'Trainee', 'con experiencia', 'Becario', 'Practicante'],
};
/** Grade suffixes after the title ("Engineer II"). */
const GRADE = ['I', 'II', 'III', 'IV', '1', '2', '3'];

const GENDER_SUFFIX: Record<AugmentLang, string[]> = {
  en: ['(m/f/d)', '(M/F)', '(m/f)', '(f/m/d)', '(all genders)', '(m/w/d)'],
  de: ['(m/w/d)', '(w/m/d)', '(m/w/x)', '(d/m/w)', '(m/f/d)', '(gn)', '(all genders)', 'm/w/d', '(w/m/divers)', '(m/w)'],
  es: ['(h/m)', '(m/f)', '(H/M)', '(m/h)', '(h/m/x)', '(m/f/d)'],
};

const WORK_MODE: Record<AugmentLang, string[]> = {
  en: [
    '100% remote',
    'Remote',
    '(Remote)',
    'Hybrid',
    'Full Time',
    'Full-time',
    'Part Time',
    'Part-time',
    'Contract',
    'Temporary',
    'Permanent',
    'Freelance',
    'Urgent',
    'URGENT HIRING',
    'Immediate Start',
    'Night Shift',
    'Day Shift',
    '6 months contract',
    'Internship',
    'Walk-in interview',
  ],
  de: [
    '100% remote',
    'Remote',
    'Homeoffice',
    'Hybrid',
    'Vollzeit',
    'Teilzeit',
    'in Vollzeit',
    'Voll- oder Teilzeit',
    'unbefristet',
    'befristet',
    'Minijob',
    'ab sofort',
    'Schichtdienst',
    'Festanstellung',
    'auf 520€ Basis',
  ],
  es: [
    '100% remoto',
    'Remoto',
    'Teletrabajo',
    'Híbrido',
    'Jornada completa',
    'Media jornada',
    'Tiempo completo',
    'Medio tiempo',
    'Contrato indefinido',
    'Temporal',
    'Urgente',
    'Incorporación inmediata',
    'Turno de noche',
    'Prácticas',
  ],
};

/** Big cities and regions of many countries; vacancy boards append them to titles. */
const PLACES = [
  'Berlin',
  'München',
  'Munich',
  'Hamburg',
  'Köln',
  'Frankfurt am Main',
  'Stuttgart',
  'Düsseldorf',
  'Wien',
  'Zürich',
  'Madrid',
  'Barcelona',
  'Valencia',
  'Sevilla',
  'Bilbao',
  'Ciudad de México',
  'Buenos Aires',
  'Bogotá',
  'Lima',
  'Santiago',
  'London',
  'Manchester',
  'Dublin',
  'New York, NY',
  'San Francisco, CA',
  'Austin, TX',
  'Chicago, IL',
  'Toronto',
  'Sydney',
  'Melbourne',
  'Singapore',
  'Kuala Lumpur',
  'Penang',
  'Johor Bahru',
  'Jakarta',
  'Manila',
  'Bangkok',
  'Hong Kong',
  'Dubai',
  'Mumbai',
  'Bangalore',
  'Paris',
  'Amsterdam',
  'Brussels',
  'Warsaw',
  'Prague',
  'Lisbon',
  'Milan',
  'Stockholm',
  'Copenhagen',
  'EMEA',
  'APAC',
  'DACH',
  'Nationwide',
  'Various Locations',
];
/** Generic employer-like names (invented) and department words. */
const COMPANIES = [
  'Global Solutions',
  'ACME GmbH',
  'Tech Corp',
  'Sdn Bhd',
  'Pte Ltd',
  'S.L.',
  'S.A.',
  'AG',
  'Group',
  'Holdings',
  'Logistics',
  'Hotel',
  'Hospital',
  'Retail',
  'Startup',
];
const DEPARTMENTS: Record<AugmentLang, string[]> = {
  en: ['Sales', 'Finance', 'HR', 'IT', 'Operations', 'Marketing', 'Logistics', 'Production', 'Retail', 'Customer Service', 'F&B', 'Admin'],
  de: ['Vertrieb', 'Finanzen', 'Personal', 'IT', 'Logistik', 'Produktion', 'Einzelhandel', 'Kundenservice', 'Verwaltung'],
  es: ['Ventas', 'Finanzas', 'RRHH', 'TI', 'Logística', 'Producción', 'Atención al cliente', 'Administración'],
};

/** Whole-word abbreviations, lower-case keys (a phrase is tried before its words). */
const ABBREVIATIONS: Record<AugmentLang, [string, string[]][]> = {
  en: [
    ['human resources', ['HR']],
    ['information technology', ['IT']],
    ['customer service', ['CS', 'Cust. Service']],
    ['quality assurance', ['QA']],
    ['quality control', ['QC']],
    ['research and development', ['R&D']],
    ['business development', ['BD', 'Biz Dev']],
    ['food and beverage', ['F&B']],
    ['chief executive officer', ['CEO']],
    ['chief financial officer', ['CFO']],
    ['chief technology officer', ['CTO']],
    ['vice president', ['VP']],
    ['manager', ['Mgr', 'Mgr.']],
    ['management', ['Mgmt', 'Mgt']],
    ['assistant', ['Asst', 'Asst.', 'Ast.']],
    ['senior', ['Sr', 'Sr.', 'Snr']],
    ['junior', ['Jr', 'Jr.', 'Jnr']],
    ['engineer', ['Engr', 'Eng.']],
    ['engineering', ['Eng.', 'Engg']],
    ['executive', ['Exec', 'Exec.']],
    ['administrator', ['Admin']],
    ['administrative', ['Admin']],
    ['administration', ['Admin']],
    ['representative', ['Rep', 'Rep.']],
    ['technician', ['Tech', 'Techn.']],
    ['technical', ['Tech']],
    ['technology', ['Tech']],
    ['developer', ['Dev']],
    ['development', ['Dev']],
    ['supervisor', ['Supv', 'Spv']],
    ['coordinator', ['Coord.', 'Coord']],
    ['department', ['Dept', 'Dept.']],
    ['operations', ['Ops']],
    ['operator', ['Op.', 'Optr']],
    ['accountant', ['Acct']],
    ['accounting', ['Acctg', 'Acc']],
    ['accounts', ['A/C', 'Acc']],
    ['specialist', ['Spec.', 'Specialist']],
    ['maintenance', ['Maint.', 'Mtce']],
    ['mechanical', ['Mech', 'Mech.']],
    ['electrical', ['Elec', 'Elect.']],
    ['general', ['Gen.']],
    ['international', ['Intl', "Int'l"]],
    ['associate', ['Assoc.']],
    ['director', ['Dir.']],
    ['officer', ['Ofcr', 'Officer']],
    ['production', ['Prod.']],
    ['project', ['Proj.']],
    ['software', ['SW']],
    ['and', ['&', '/']],
  ],
  de: [
    ['mitarbeiter', ['MA', 'Mitarb.']],
    ['mitarbeiterin', ['MA']],
    ['sachbearbeiter', ['SB', 'Sachbearb.']],
    ['kaufmann', ['Kfm.']],
    ['kauffrau', ['Kffr.']],
    ['kaufmännischer', ['kfm.']],
    ['kaufmännische', ['kfm.']],
    ['technischer', ['techn.']],
    ['technische', ['techn.']],
    ['assistent', ['Assist.']],
    ['assistentin', ['Assist.']],
    ['leiter', ['Ltr.']],
    ['ingenieur', ['Ing.']],
    ['ingenieurin', ['Ing.']],
    ['diplom', ['Dipl.']],
    ['und', ['&', '/', 'u.']],
  ],
  es: [
    ['administrativo', ['Admin.', 'Administ.']],
    ['administrativa', ['Admin.', 'Administ.']],
    ['ingeniero', ['Ing.']],
    ['ingeniera', ['Ing.']],
    ['técnico', ['Téc.', 'Tco.']],
    ['técnica', ['Téc.']],
    ['departamento', ['Dpto.', 'Depto.']],
    ['licenciado', ['Lic.']],
    ['licenciada', ['Lic.']],
    ['auxiliar', ['Aux.']],
    ['recursos humanos', ['RRHH', 'RR.HH.']],
    ['director', ['Dir.']],
    ['directora', ['Dir.']],
    ['y', ['&', '/']],
  ],
};

const KEYBOARD_ROWS = ['qwertyuiop', 'asdfghjkl', 'zxcvbnm'];
const NEIGHBOURS = new Map<string, string>();
for (let r = 0; r < KEYBOARD_ROWS.length; r++) {
  const row = KEYBOARD_ROWS[r];
  for (let i = 0; i < row.length; i++) NEIGHBOURS.set(row[i], (row[i - 1] ?? '') + (row[i + 1] ?? ''));
}

const DIACRITICS: [RegExp, string][] = [
  [/ä/g, 'ae'],
  [/ö/g, 'oe'],
  [/ü/g, 'ue'],
  [/Ä/g, 'Ae'],
  [/Ö/g, 'Oe'],
  [/Ü/g, 'Ue'],
  [/ß/g, 'ss'],
];

/** What a noisy title may carry, each a probability per title (defaults in DEFAULT_NOISE). */
export interface NoiseRates {
  seniority: number;
  grade: number;
  gender: number;
  genderForm: number;
  abbreviation: number;
  typo: number;
  diacritics: number;
  location: number;
  workMode: number;
  company: number;
  department: number;
  /** Drops one modifier word of a multi-word title (not its head: the last word in en/de, the first in es). */
  dropWord: number;
}

export const DEFAULT_NOISE: NoiseRates = {
  seniority: 0.3,
  grade: 0.04,
  gender: 0.25,
  genderForm: 0.5,
  abbreviation: 0.3,
  typo: 0.15,
  diacritics: 0.15,
  location: 0.15,
  workMode: 0.15,
  company: 0.05,
  department: 0.07,
  dropWord: 0,
};

/** `title`, `joiner`, `tail`: a joiner ' (' gets its closing parenthesis; a tail already in parentheses keeps its own. */
const attach = (title: string, joiner: string, tail: string) =>
  joiner === ' (' ? (tail.startsWith('(') ? `${title} ${tail}` : `${title} (${tail})`) : `${title}${joiner}${tail}`;

const pickFrom = <T>(xs: readonly T[], random: () => number): T => xs[Math.floor(random() * xs.length)];

/** German/Spanish gender-inclusive spellings of one word: Entwickler → Entwickler/in, EntwicklerIn, Entwickler*in, ...; camarero → camarero/a. */
export function genderForm(word: string, lang: AugmentLang, random: () => number): string {
  if (lang === 'de' && /er$/.test(word) && word.length > 4)
    return word + pickFrom(['/in', '/-in', 'In', '*in', ':in', '_in', '(in)', ' / in', '/innen', '*innen'], random);
  if (lang === 'de' && /in$/.test(word) && word.length > 6) {
    // Entwicklerin → Entwickler/in (the feminine form written as the inclusive one)
    const stem = word.slice(0, -2);
    if (/er$/.test(stem)) return stem + pickFrom(['/in', 'In', '*in', ':in'], random);
  }
  if (lang === 'es' && /o$/.test(word) && word.length > 3) return word + pickFrom(['/a', '/A', '(a)', ' / a', '/-a'], random);
  if (lang === 'es' && /or$/.test(word) && word.length > 4) return word + pickFrom(['/a', '(a)', '/A'], random);
  if (lang === 'en' && /man$/i.test(word)) return `${word.slice(0, -3)}${pickFrom(['person', 'man/woman', 'man'], random)}`;
  return word;
}

function typo(word: string, random: () => number): string {
  if (word.length < 4) return word;
  const i = 1 + Math.floor(random() * (word.length - 2));
  const c = word[i].toLowerCase();
  switch (Math.floor(random() * 4)) {
    case 0:
      return word.slice(0, i) + word.slice(i + 1); // drop
    case 1:
      return word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2); // swap
    case 2:
      return word.slice(0, i) + word[i] + word.slice(i); // double
    default: {
      const n = NEIGHBOURS.get(c);
      return n ? word.slice(0, i) + pickFrom([...n], random) + word.slice(i + 1) : word;
    }
  }
}

function abbreviate(title: string, lang: AugmentLang, random: () => number): string {
  const lower = title.toLowerCase();
  const hits = ABBREVIATIONS[lang].filter(([k]) => new RegExp(`(^|[^\\p{L}])${k}($|[^\\p{L}])`, 'u').test(lower));
  if (hits.length === 0) return title;
  const [k, forms] = pickFrom(hits, random);
  return title.replace(new RegExp(`(^|[^\\p{L}])${k}(?=$|[^\\p{L}])`, 'iu'), (_m, pre) => pre + pickFrom(forms, random));
}

/**
 * A vacancy-style variant of a clean `title` in `lang`: each kind of noise
 * applied with its rate in `rates`; the result differs from `title` in most
 * cases but may equal it.
 */
export function noisyTitle(title: string, lang: AugmentLang, random: () => number, rates: NoiseRates = DEFAULT_NOISE): string {
  let t = title;
  if (random() < rates.dropWord) {
    const ws = t.split(' ');
    if (ws.length >= 2) {
      const i = lang === 'es' ? 1 + Math.floor(random() * (ws.length - 1)) : Math.floor(random() * (ws.length - 1));
      ws.splice(i, 1);
      t = ws.join(' ');
    }
  }
  if (random() < rates.abbreviation) t = abbreviate(t, lang, random);
  if (lang !== 'en' || random() < 0.2) {
    if (random() < rates.genderForm) {
      const ws = t.split(' ');
      const i = ws.length - 1 - Math.floor(random() * Math.min(2, ws.length));
      ws[i] = genderForm(ws[i], lang, random);
      t = ws.join(' ');
    }
  }
  if (random() < rates.typo) {
    const ws = t.split(' ');
    const i = Math.floor(random() * ws.length);
    ws[i] = typo(ws[i], random);
    t = ws.join(' ');
  }
  if (lang === 'de' && random() < rates.diacritics) for (const [re, s] of DIACRITICS) t = t.replace(re, s);
  if (lang === 'es' && random() < rates.diacritics)
    t = t
      .normalize('NFD')
      .replace(/[\u0300-\u036f]/g, '')
      .normalize('NFC');
  if (random() < rates.seniority) {
    const s = pickFrom(SENIORITY[lang], random);
    t = lang === 'es' && s === 'con experiencia' ? `${t} ${s}` : `${s} ${t}`;
  }
  if (random() < rates.grade) t = `${t} ${pickFrom(GRADE, random)}`;
  if (random() < rates.department) {
    const d = pickFrom(DEPARTMENTS[lang], random);
    t = random() < 0.5 ? `${t} (${d})` : `${t} - ${d}`;
  }
  if (random() < rates.gender) t = `${t} ${pickFrom(GENDER_SUFFIX[lang], random)}`;
  const joiners = [' – ', ' - ', ' | ', ', ', ' / ', ' ('];
  if (random() < rates.workMode) t = attach(t, pickFrom(joiners, random), pickFrom(WORK_MODE[lang], random));
  if (random() < rates.location) t = attach(t, pickFrom([...joiners, ' in ', ' @ '], random), pickFrom(PLACES, random));
  if (random() < rates.company) t = attach(t, pickFrom([...joiners, ' @ ', ' at '], random), pickFrom(COMPANIES, random));
  return t;
}
