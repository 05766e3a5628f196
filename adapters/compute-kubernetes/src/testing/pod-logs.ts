/**
 * A container's log as the kubelet keeps it: lines with the time each arrived, so `timestamps=true`
 * and `tailLines` answer as they do on a node, and followers get what is printed until the
 * container ends.
 */
import type { ContainerProcess } from '@tributary/conformance/testing';

interface Line {
  time: number;
  text: string;
}

export interface LogQuery {
  tailLines?: number;
  timestamps?: boolean;
  limitBytes?: number;
  sinceSeconds?: number;
}

/** RFC 3339 with nanoseconds, as the kubelet prefixes log lines. */
function stamp(time: number): string {
  return new Date(time).toISOString().replace('Z', '000000Z');
}

export class ContainerLog {
  private readonly lines: Line[] = [];
  /** A line still being written (no newline yet). */
  private partial: Line | undefined;
  private ended = false;
  private readonly followers = new Set<{ write: (text: string) => void; end: () => void; timestamps: boolean; atLineStart: boolean }>();

  constructor(process: ContainerProcess) {
    process.onOutput((_stream, text) => this.append(text));
    void process.exited.then(() => this.end());
  }

  private append(text: string): void {
    const time = Date.now();
    for (const follower of this.followers) follower.write(this.format(follower, text, time));
    let rest = text;
    while (rest) {
      const newline = rest.indexOf('\n');
      const piece = newline < 0 ? rest : rest.slice(0, newline + 1);
      rest = newline < 0 ? '' : rest.slice(newline + 1);
      if (this.partial) this.partial.text += piece;
      else this.partial = { time, text: piece };
      if (piece.endsWith('\n')) {
        this.lines.push(this.partial);
        this.partial = undefined;
      }
    }
  }

  private format(follower: { timestamps: boolean; atLineStart: boolean }, text: string, time: number): string {
    if (!follower.timestamps) return text;
    let out = '';
    for (const ch of text.split(/(?<=\n)/)) {
      out += (follower.atLineStart ? `${stamp(time)} ` : '') + ch;
      follower.atLineStart = ch.endsWith('\n');
    }
    return out;
  }

  private end(): void {
    this.ended = true;
    for (const follower of this.followers) follower.end();
    this.followers.clear();
  }

  get finished(): boolean {
    return this.ended;
  }

  /** The log so far, shaped by the query. */
  read(query: LogQuery = {}): string {
    let lines = this.partial ? [...this.lines, this.partial] : [...this.lines];
    if (query.sinceSeconds !== undefined) lines = lines.filter((l) => l.time >= Date.now() - query.sinceSeconds! * 1000);
    if (query.tailLines !== undefined) lines = query.tailLines <= 0 ? [] : lines.slice(-query.tailLines);
    let text = lines.map((l) => (query.timestamps ? `${stamp(l.time)} ${l.text}` : l.text)).join('');
    if (query.limitBytes !== undefined) text = Buffer.from(text).subarray(0, query.limitBytes).toString('utf8');
    return text;
  }

  /** The last lines for `terminationMessagePolicy: FallbackToLogsOnError`: at most 80 lines and 2048 bytes, as the kubelet takes. */
  fallbackMessage(): string {
    const text = this.read({ tailLines: 80 });
    const bytes = Buffer.from(text);
    return bytes.length <= 2048 ? text : bytes.subarray(bytes.length - 2048).toString('utf8');
  }

  /** Sends what is there (as `read(query)`), then everything printed until the container ends; returns the unsubscribe function. */
  follow(query: LogQuery, write: (text: string) => void, end: () => void): () => void {
    const existing = this.read(query);
    if (existing) write(existing);
    if (this.ended) {
      end();
      return () => {};
    }
    const follower = { write, end, timestamps: query.timestamps === true, atLineStart: this.partial === undefined };
    this.followers.add(follower);
    return () => this.followers.delete(follower);
  }
}
