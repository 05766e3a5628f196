/** How numbers are printed in the tables. */

/** A count or a rate: rounded, with thousands separators. */
export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
/** A latency in ms; `-` when there were no samples. */
export const ms = (n: number) => (Number.isNaN(n) ? '-' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
/** The ratio a/b, as `1.23x` (or `12x` from 10 up). */
export const times = (a: number, b: number) => `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}x`;
