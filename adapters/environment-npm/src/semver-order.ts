/**
 * Orders semver versions (`1.2.3`, `1.2.3-beta.1`; build metadata ignored), enough to name the
 * `latest` of a tarball folder: npm itself picks versions for ranges.
 */

const SEMVER = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/** Negative, zero or positive as `a` is lower than, equal to or higher than `b`; non-semver sorts lowest. */
export function compareVersions(a: string, b: string): number {
  const x = SEMVER.exec(a);
  const y = SEMVER.exec(b);
  if (x === null || y === null) return (x === null ? 0 : 1) - (y === null ? 0 : 1) || (a < b ? -1 : a > b ? 1 : 0);
  for (let i = 1; i <= 3; i++) {
    const d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return d;
  }
  const [p, q] = [x[4], y[4]];
  if (p === undefined || q === undefined) return (p === undefined ? 1 : 0) - (q === undefined ? 1 : 0);
  const ps = p.split('.');
  const qs = q.split('.');
  for (let i = 0; i < Math.max(ps.length, qs.length); i++) {
    const [m, n] = [ps[i], qs[i]];
    if (m === undefined || n === undefined) return m === undefined ? -1 : 1;
    const [mn, nn] = [/^\d+$/.test(m), /^\d+$/.test(n)];
    const d = mn && nn ? Number(m) - Number(n) : mn !== nn ? (mn ? -1 : 1) : m < n ? -1 : m > n ? 1 : 0;
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether a version is a prerelease (`1.0.0-rc.1`). */
export function isPrerelease(version: string): boolean {
  return SEMVER.exec(version)?.[4] !== undefined;
}
