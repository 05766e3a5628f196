/** What a redacted secret is replaced with. */
const MASK = '***';

// `scheme://user:secret@`: the secret runs to the LAST '@' before whitespace, not to the first
// '/': a malformed URL is echoed exactly because it did not parse, and its password may hold '/',
// '?', '#', quotes or '@'. Hiding a little more than the password (when an '@' also appears later
// in a path) is the safe side of that trade.
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/[^\s:/?#@]*):\S*@/gi;

// Parameters whose value is a secret, in query strings (`?sig=`, `&X-Amz-Signature=`) and in
// `;`-separated connection strings (`AccountKey=…;`). Matched as a part of the name, any case.
const SECRET_NAME =
  '[^\\s=&;?"\'`]*?(?:pass(?:word|wd)?|pwd|secret|token|sig(?:nature)?|accountkey|sharedaccesssignature|api[-_]?key|private[-_]?key|credentials?|auth)[^\\s=&;?"\'`]*';
// A value runs to the next separator or whitespace (a quote may be part of a password), or is a
// quoted libpq value (`password='s 3'`, backslash escapes inside).
const SECRET_PARAM = new RegExp(`(^|[?&;\\s"'\`])(${SECRET_NAME}|key)=('(?:[^'\\\\]|\\\\.)*'|[^&;\\s]*)`, 'gi');

/**
 * Redact credentials from text that may hold URLs or connection strings, before it goes into a
 * message, a log line or an error: the password of `scheme://user:password@host` (the user name
 * stays, so the message still says who), and the values of secret-looking parameters
 * (`password=`, `sig=`, `AccountKey=`, `secretAccessKey=`, `X-Amz-Security-Token=`, `token=`...).
 *
 * It works on any string, including URLs that do not parse (`postgres://alice:pw@host:notaport/db`)
 * and whole messages with several URLs in them; text without secrets comes back unchanged.
 * @public
 */
export function redactUrl(text: string): string {
  if (typeof text !== 'string') return text;
  return text
    .replace(USERINFO, (_m, head: string) => `${head}:${MASK}@`)
    .replace(SECRET_PARAM, (m, sep: string, name: string, value: string) => (value === '' ? m : `${sep}${name}=${MASK}`));
}
