/**
 * A small argv parser for the jobbert CLI: `--kebab-case value`, `--flag`,
 * `--key=value`, and positionals. Options are declared per command with a
 * type, so `--k 5` arrives as the number 5 and a typo is an error, not a
 * silently ignored flag.
 */

export type OptionType = 'string' | 'number' | 'integer' | 'boolean';

export interface CommandSpec {
  /** Option name (kebab-case, without dashes) → type. */
  options: Record<string, OptionType>;
  /** Options whose value may repeat (collected into an array of strings). */
  repeatable?: string[];
}

export interface Parsed {
  positionals: string[];
  /** camelCase option name → value. */
  options: Record<string, string | number | boolean | string[]>;
}

/** A usage error: the CLI prints the message and exits with status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An option's name as parseArgs keys it ('index-name' → 'indexName'). */
export const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** A number as people write one: digits, a point, an exponent. */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** Parses argv against spec. Throws UsageError for unknown options or bad values. */
export function parseArgs(argv: string[], spec: CommandSpec): Parsed {
  const out: Parsed = { positionals: [], options: {} };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--') || arg === '--') {
      // `-k 3` would otherwise be normalised as the titles "-k" and "3".
      if (/^-[A-Za-z]/.test(arg))
        throw new UsageError(`unknown option ${arg}: options take two dashes (-${arg}); a text that starts with '-' goes after --`);
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const type = spec.options[name];
    if (!type) throw new UsageError(`unknown option --${name}`);
    let value: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (type === 'boolean') {
      if (value !== undefined && value !== 'true' && value !== 'false')
        throw new UsageError(`--${name} takes no value (or true/false); received '${value}'`);
      out.options[camel(name)] = value !== 'false';
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      // `--output --strict` wrote a file named "--strict" (and was not strict): the next option is no value.
      if (argv[i + 1].startsWith('--'))
        throw new UsageError(
          `--${name} needs a value, and ${argv[i + 1]} ${argv[i + 1] === '--' ? 'ends the options' : 'is an option'}; a value that starts with '--' goes as --${name}=VALUE`,
        );
      value = argv[++i];
    }
    // `--output ''` wrote to stdout and `--model ''` loaded the built-in model: an empty value is a mistake.
    if (value === '') throw new UsageError(`--${name} needs a value; received an empty one`);
    let parsed: string | number = value;
    if (type === 'number' || type === 'integer') {
      parsed = Number(value);
      // Decimal only: Number() would also read '0x10' as 16 and '0b1' as 1.
      if (!DECIMAL.test(value.trim()) || !Number.isFinite(parsed) || (type === 'integer' && !Number.isInteger(parsed))) {
        throw new UsageError(`--${name} must be ${type === 'integer' ? 'an integer' : 'a number'}; received '${value}'`);
      }
    }
    const key = camel(name);
    if (!spec.repeatable?.includes(name) && Object.hasOwn(out.options, key))
      throw new UsageError(`--${name} is given twice ('${out.options[key]}', then '${parsed}'); give it once`);
    if (spec.repeatable?.includes(name)) {
      const list = (out.options[key] as string[] | undefined) ?? [];
      list.push(String(parsed));
      out.options[key] = list;
    } else {
      out.options[key] = parsed;
    }
  }
  return out;
}
