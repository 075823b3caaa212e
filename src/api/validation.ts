/**
 * Schema validation for every part of a request. Two Ajv instances: bodies are validated strictly
 * (no type coercion, nothing removed, so a wrong type or an unknown field is an error), while
 * querystrings, params and headers — which are always strings on the wire — are coerced.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

// ajv-formats is CommonJS; its default export arrives nested under ESM interop.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/**
 * The format of titles and names: one line of visible text — something besides white space, and
 * none of the Unicode control characters (Cc: C0, DEL, C1 — line breaks and tabs among them), lone
 * surrogates (Cs) or noncharacters (U+FFFE, U+FFFF…), which no page, feed or calendar carries
 * intact (XML forbids them) and PostgreSQL refuses (NUL).
 */
export const TEXT_LINE = 'text-line';
const NOT_TEXT = /[\p{Cc}\p{Cs}\p{Noncharacter_Code_Point}]/u;

/** The format of every URL a user gives Rostrum to send to or show (webhooks, links, artwork): http or https, nothing else. */
export const HTTP_URL = 'http-url';
function isHttpUrl(s: string): boolean {
  try {
    const url = new URL(s);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
const VISIBLE = /\S/u;

function makeAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce ? 'array' : false,
    removeAdditional: false,
    useDefaults: true,
    allErrors: false,
    strict: false,
  });
  addFormats(ajv);
  ajv.addFormat(TEXT_LINE, { type: 'string', validate: (s: string) => VISIBLE.test(s) && !NOT_TEXT.test(s) });
  ajv.addFormat(HTTP_URL, { type: 'string', validate: isHttpUrl });
  return ajv;
}

const strict = makeAjv(false);
const coercing = makeAjv(true);

/** An object schema with nothing required may be sent as no body at all (a bare POST). */
function bodyMayBeAbsent(schema: { type?: unknown; required?: unknown[]; minProperties?: number }): boolean {
  return schema.type === 'object' && !schema.required?.length && !schema.minProperties;
}

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strict : coercing;
  const validate: ValidateFunction = ajv.compile(schema as object);
  if (httpPart !== 'body' || !bodyMayBeAbsent(schema as object)) return validate as ReturnType<FastifySchemaCompiler<unknown>>;
  // Fastify hands an absent body to the validator as null.
  const optional = (data: unknown) => data === undefined || data === null || validate(data);
  Object.defineProperty(optional, 'errors', { get: () => validate.errors });
  return optional as ReturnType<FastifySchemaCompiler<unknown>>;
};
