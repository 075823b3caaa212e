/**
 * Text from users (titles, names) put into markup, safe by construction.
 *
 * - `visibleText`: what of a string any of our outputs can carry. XML 1.0 forbids the C0 controls
 *   but tab, line feed and carriage return, U+FFFE, U+FFFF and lone surrogates (§2.2 Char); an
 *   HTML parser drops a NUL and UTF-8 cannot encode a lone surrogate. Each becomes U+FFFD, the
 *   replacement character, so a reader sees that something was there and every output agrees.
 * - `escapeMarkup`: that text for HTML and XML element content and quoted attributes. The five
 *   markup characters and the three whitespace controls become numeric references: a parser gives
 *   back exactly the text (literal tabs and line breaks in an attribute would be normalised to
 *   spaces, and a literal carriage return to a line feed).
 *
 * Put the result into a template with a function, never as the replacement string of
 * `String.prototype.replace`, which reads `$&`, `$'` and `` $` `` in it as patterns.
 */

/** Characters XML 1.0 forbids, lone surrogates among them (the `u` flag reads them as code points). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the controls XML forbids is the point.
const FORBIDDEN = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|\p{Cs}/gu;
const MARKUP = /[&<>"'\t\n\r]/g;

/** The string with every character XML 1.0 forbids (or UTF-8 cannot carry) replaced by U+FFFD. */
export const visibleText = (s: string): string => s.replace(FORBIDDEN, '\ufffd');

/** Escapes text for HTML and XML (element content and quoted attributes); see the module's comment. */
export const escapeMarkup = (s: string): string => visibleText(s).replace(MARKUP, (c) => `&#${c.charCodeAt(0)};`);
