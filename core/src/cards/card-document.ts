/** The page a card is stored as: one self-contained HTML document (inline CSS, no script, no network). */
import { escapeHtml } from './html.ts';

const CSS = `
:root{color-scheme:light;--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#fff;--accent:#2f6fdb}
*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1040px;margin:0 auto;padding:20px 24px 40px}
header h1{font-size:20px;margin:0 0 2px}header .sub{color:var(--muted);font-size:13px}
section{margin-top:22px}h2{font-size:15px;margin:0 0 8px;padding-bottom:4px;border-bottom:1px solid var(--line)}
.component{margin:14px 0}.muted{color:var(--muted);font-size:12.5px}
.table-wrap{overflow-x:auto;max-height:560px;overflow-y:auto;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse;min-width:50%;font-size:13px}section table{width:100%}th,td{padding:5px 10px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f9fafb;font-weight:600}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tbody tr:last-child td{border-bottom:none}
figure{margin:0}figure img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}figcaption{color:var(--muted);font-size:12.5px}
.progress{height:14px;background:#eef0f3;border-radius:7px;overflow:hidden}.progress-fill{height:100%;background:var(--accent)}
.progress-label{font-weight:600;margin-bottom:4px}
.value-box{display:inline-block;min-width:180px;margin-right:12px;padding:12px 16px;border:1px solid var(--line);border-radius:8px;vertical-align:top}
.vb-title{color:var(--muted);font-size:12.5px;text-transform:uppercase;letter-spacing:.04em}.vb-value{font-size:26px;font-weight:650}
.delta{font-size:13px;margin-left:8px}.delta.good{color:#2e8b57}.delta.bad{color:#d14343}
.json{font:12.5px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace}.json ul{list-style:none;margin:0;padding-left:18px}
.json summary{cursor:pointer;color:var(--muted)}.j-key{color:#7c3aed}.j-string{color:#047857}.j-number{color:#1d4ed8}.j-boolean,.j-null{color:#b45309}
pre{background:#f6f8fa;padding:10px;border-radius:6px;overflow-x:auto;font-size:12.5px}code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace}
svg.chart{max-width:100%;height:auto}.c-title{font:600 13px system-ui,sans-serif;fill:#1f2937}.c-tick{font:11px system-ui,sans-serif;fill:#4b5563}
.c-label{font:12px system-ui,sans-serif;fill:#374151}.c-grid{stroke:#eceef1}.c-axis{stroke:#9ca3af}
.graph{overflow-x:auto}.graph svg{max-width:100%;height:auto}
.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;font-size:13px}.kv dt{color:var(--muted)}.kv dd{margin:0}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:12px;font-weight:600}
.badge.succeeded{background:#e6f4ea;color:#1e6b41}.badge.failed{background:#fde8e8;color:#a12c2c}.badge.running{background:#e3efff;color:#1f56b3}
.card-error{border:1px solid #f5b5b5;background:#fff5f5;color:#8a1f1f;border-radius:6px;padding:8px 12px;font-size:13px;white-space:pre-wrap}
`;

/** @internal */
export interface CardDocument {
  title: string;
  subtitle?: string;
  /** `running` marks a live card (stored by refresh()). */
  status?: 'running' | 'succeeded' | 'failed';
  body: string;
  /** Shown at the bottom, e.g. when it was rendered. */
  footer?: string;
}

/** Wrap a card's body in its page. @internal */
export function cardDocument(doc: CardDocument): string {
  const badge = doc.status ? ` <span class="badge ${doc.status}">${doc.status === 'running' ? 'live' : doc.status}</span>` : '';
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    // No network: nothing is fetched, not even by a component's HTML.
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">` +
    `<title>${escapeHtml(doc.title)}</title><style>${CSS}</style></head><body><main>` +
    `<header><h1>${escapeHtml(doc.title)}${badge}</h1>${doc.subtitle ? `<div class="sub">${escapeHtml(doc.subtitle)}</div>` : ''}</header>` +
    doc.body +
    (doc.footer ? `<p class="muted" style="margin-top:28px">${escapeHtml(doc.footer)}</p>` : '') +
    '</main></body></html>'
  );
}

/** One component in its wrapper; a component that throws is shown as its error, in its place. @internal */
export function componentHtml(c: { kind: string; toHtml(): string }): string {
  try {
    return `<div class="component ${escapeHtml(String(c.kind))}">${c.toHtml()}</div>`;
  } catch (err) {
    return `<div class="component card-error">This ${escapeHtml(String(c.kind))} component could not be rendered: ${escapeHtml(
      err instanceof Error ? err.message : String(err),
    )}</div>`;
  }
}
