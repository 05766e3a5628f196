/**
 * Credentials out of every text this adapter shows: the one function all messages that mention
 * a URL or connection string go through. The shared helper of the core replaces it when the
 * branches are merged; its contract is the same (a string in, the same string with every
 * password replaced by `***` out).
 */

const MASK = '***';

/** The password of one `scheme://user:password@host/...` token masked. */
function redactToken(token: string): string {
  const schemeEnd = token.indexOf('://') + 3;
  const rest = token.slice(schemeEnd);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  // An unescaped '/', '?' or '#' in a password ends the authority early: then mask up to the last '@'.
  let at = authority.lastIndexOf('@');
  if (at < 0) at = rest.lastIndexOf('@');
  if (at < 0) return token;
  const colon = rest.slice(0, at).indexOf(':');
  return colon < 0 ? token : `${token.slice(0, schemeEnd)}${rest.slice(0, colon)}:${MASK}${rest.slice(at)}`;
}

/**
 * Mask the passwords in `s`: the password of every `scheme://user:password@host` (a URL
 * without a password is unchanged), `password=` query parameters and libpq `password=value`
 * pairs.
 * @internal
 */
export function redactUrl(s: string): string {
  return s
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*/gi, redactToken)
    .replace(/([?&;](?:password|pass|pwd|passwd)=)[^&\s"'<>`]*/gi, `$1${MASK}`)
    .replace(/(?<![?&;])\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s"'<>`]+)/gi, `$1${MASK}`);
}
