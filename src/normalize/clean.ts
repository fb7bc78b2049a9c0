/**
 * What scraping leaves in a vacancy title and no job title means: HTML
 * character references ("Sales &amp; Marketing", "Mechaniker&nbsp;(m/w/d)",
 * double-escaped "&amp;amp;"), inline HTML tags ("<b>Nurse</b>") and invisible
 * format characters (a soft hyphen inside a German compound, a zero-width
 * space; Unicode category Cf) and control characters (windows-1252's
 * punctuation read as Latin-1: "Children\u0092s Nurse"). Each would otherwise
 * reach the encoder as characters of the title and move it away from its
 * occupation.
 */
import { describe } from '../util/validate.js';

/** HTML's Latin-1 entities, U+00A0 … U+00FF in order. */
const LATIN1 =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 sup3 acute micro ' +
  'para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc Atilde Auml Aring AElig Ccedil ' +
  'Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve Oacute Ocirc Otilde Ouml times Oslash Ugrave ' +
  'Uacute Ucirc Uuml Yacute THORN szlig agrave aacute acirc atilde auml aring aelig ccedil egrave eacute ecirc euml ' +
  'igrave iacute icirc iuml eth ntilde ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml';

/** HTML's markup and "special" entities and the common typographic ones, as name:hex code point. */
const OTHERS =
  'quot:22 amp:26 apos:27 lt:3c gt:3e OElig:152 oelig:153 Scaron:160 scaron:161 Yuml:178 fnof:192 circ:2c6 tilde:2dc ' +
  'ensp:2002 emsp:2003 thinsp:2009 zwnj:200c zwj:200d lrm:200e rlm:200f ndash:2013 mdash:2014 lsquo:2018 rsquo:2019 ' +
  'sbquo:201a ldquo:201c rdquo:201d bdquo:201e dagger:2020 Dagger:2021 bull:2022 hellip:2026 permil:2030 lsaquo:2039 ' +
  'rsaquo:203a euro:20ac trade:2122';

/** The named references decoded: Latin-1, HTML's markup and "special" entities, and the common typographic ones. */
const ENTITIES = new Map<string, string>([
  ...LATIN1.split(' ').map((name, i): [string, string] => [name, String.fromCharCode(0xa0 + i)]),
  ...OTHERS.split(' ').map((pair): [string, string] => {
    const [name, hex] = pair.split(':');
    return [name, String.fromCodePoint(parseInt(hex, 16))];
  }),
]);

/** A character reference: named, decimal or hexadecimal, with its semicolon. */
const REFERENCE = /&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([A-Za-z][A-Za-z0-9]{1,7}));/g;
/** An opening, closing or empty tag of an inline or line-level HTML element, with any attributes. */
const TAG =
  /<\/?(?:a|abbr|b|big|br|center|code|del|div|em|font|h[1-6]|hr|i|ins|li|mark|nobr|ol|p|s|small|span|strike|strong|sub|sup|u|ul|wbr)(?:\s[^<>]*)?\/?>/gi;
/** Invisible format characters. */
const FORMAT = /\p{Cf}/gu;
/** Control characters (Cc) other than the whitespace ones (tab, line breaks). */
const CONTROL = /[\x00-\x08\x0e-\x1f\x7f-\x9f]/g;
/** Whether a title needs more than trimming: the fast path for the clean majority. */
const SUSPECT = /[&<\p{Cf}\x00-\x08\x0e-\x1f\x7f-\x9f]/u;

/**
 * windows-1252's characters for the bytes 0x80–0x9F (WHATWG's index), a space
 * where it has none (0x81, 0x8D, 0x8F, 0x90, 0x9D). A table, not
 * `TextDecoder('windows-1252')`: Node 20's drops these bytes when it decodes
 * in one call (`decode(bytes)`; a streaming decode gets them right).
 */
const WINDOWS_1252_HIGH = [
  0x20ac, 0x20, 0x201a, 0x192, 0x201e, 0x2026, 0x2020, 0x2021, 0x2c6, 0x2030, 0x160, 0x2039, 0x152, 0x20, 0x17d, 0x20, 0x20, 0x2018, 0x2019,
  0x201c, 0x201d, 0x2022, 0x2013, 0x2014, 0x2dc, 0x2122, 0x161, 0x203a, 0x153, 0x20, 0x17e, 0x178,
].map((cp) => String.fromCharCode(cp));

/**
 * A control character's replacement. U+0080–U+009F are what windows-1252 text
 * read as Latin-1 holds ("Children\u0092s Nurse", "Koch \u0096 Vollzeit"), and
 * what HTML reads "&#146;" as: the windows-1252 character of that byte. Any
 * other control is a space.
 */
const decodeControl = (ch: string): string => {
  const code = ch.charCodeAt(0);
  return code >= 0x80 ? WINDOWS_1252_HIGH[code - 0x80] : ' ';
};

const decodeReference = (ref: string, dec?: string, hex?: string, name?: string): string => {
  if (name !== undefined) return ENTITIES.get(name) ?? ref;
  const cp = parseInt(dec ?? hex!, dec === undefined ? 16 : 10);
  // NUL, surrogates and values past Unicode stay as they were written.
  return cp === 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ? ref : String.fromCodePoint(cp);
};

/**
 * `title` as the Normalizer matches it: HTML character references decoded (to
 * a fixed point, so "&amp;amp;" is "&"; unknown names and invalid code points
 * are kept as written), inline HTML tags replaced by a space, format characters
 * (Cf: soft hyphen, zero-width space, direction marks) removed, U+0080–U+009F
 * read as windows-1252 (HTML reads "&#150;" so, and Latin-1-decoded
 * windows-1252 text holds them: "\u0096" is "–"), other control characters
 * replaced by a space, and surrounding whitespace trimmed; where any of that
 * changed the title, runs of whitespace also become one space. A title with none of these is only trimmed. Sync.
 * TypeError for a non-string. (A Normalizer result's `input` stays the title
 * as given.)
 */
export function cleanTitle(title: string): string {
  if (typeof title !== 'string') throw new TypeError(`cleanTitle: title must be a string; received ${describe(title)}`);
  if (!SUSPECT.test(title)) return title.trim();
  let text = title;
  for (let round = 0; round < 4 && text.includes('&'); round++) {
    const decoded = text.replace(REFERENCE, decodeReference);
    if (decoded === text) break;
    text = decoded;
  }
  if (text.includes('<')) text = text.replace(TAG, ' ');
  text = text.replace(FORMAT, '').replace(CONTROL, decodeControl);
  if (text !== title) text = text.replace(/\s+/g, ' ');
  return text.trim();
}
