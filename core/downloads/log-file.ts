/**
 * Counts the downloads in one CloudFront standard log file (legacy standard logging, W3C extended
 * format, gzip): `#Version:` and `#Fields:` header lines, then one tab-separated line per request
 * with the fields the `#Fields:` line names (CloudFront's "Standard logging reference" lists 33:
 * `date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status ...
 * sc-range-start sc-range-end`). Fields are found by name, so a file with more or fewer fields is
 * read the same way.
 *
 * The file is streamed (gunzip, then lines) and never held whole; the counts are kept per
 * (service, version, day) and returned only when the whole file was read. A file that cannot be
 * read to the end (corrupt gzip, over a size cap, not a CloudFront log) is refused whole
 * (LogRefusedError): nothing of it is counted. A line that does not fit (wrong field count, no
 * valid date, an undecodable path, over the line cap) is skipped and counted as malformed.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { DEFAULT_LOG_LIMITS, type LogLimits } from './contract';
import { releaseDownloadOf } from './release-key';

export type RefusalReason = 'bad-gzip' | 'too-large' | 'not-a-log' | 'too-many-groups';

export class LogRefusedError extends Error {
  override readonly name = 'LogRefusedError';
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

export interface DownloadGroup {
  readonly service: string;
  readonly version: string;
  /** `YYYY-MM-DD` (UTC), the request's date. */
  readonly day: string;
  readonly count: number;
}

export interface LogTally {
  /** Downloads per (service, version, day), in key order. */
  readonly groups: readonly DownloadGroup[];
  /** Request lines read. */
  readonly lines: number;
  /** Lines that were downloads (the sum of the groups' counts). */
  readonly downloads: number;
  /** Well-formed lines that are not downloads (other paths, methods or statuses). */
  readonly ignored: number;
  /** Lines skipped: wrong field count, bad date or path, too long, or before the `#Fields:` line. */
  readonly malformed: number;
}

/** Fields a download is judged by; a `#Fields:` line without them is not a CloudFront log. */
const REQUIRED_FIELDS = ['date', 'cs-method', 'cs-uri-stem', 'sc-status'] as const;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const NEWLINE = 0x0a;

/** Tallies a gzip CloudFront log from its (compressed) bytes. */
export async function tallyLogFile(
  body: AsyncIterable<Uint8Array> | Readable,
  limits: LogLimits = DEFAULT_LOG_LIMITS,
): Promise<LogTally> {
  const tally = new Tally(limits);
  // What the line reader refused: the pipeline reports an abort of its other stages instead.
  let refusal: LogRefusedError | undefined;
  try {
    await pipeline(
      body instanceof Readable ? body : Readable.from(body),
      byteCap(limits.maxCompressedBytes, 'compressed'),
      createGunzip(),
      byteCap(limits.maxDecompressedBytes, 'decompressed'),
      async (lines: AsyncIterable<Buffer>) => {
        try {
          for await (const chunk of lines) tally.write(chunk);
        } catch (error) {
          if (error instanceof LogRefusedError) refusal = error;
          throw error;
        }
      },
    );
    return tally.end();
  } catch (error) {
    if (refusal) throw refusal;
    if (error instanceof LogRefusedError) throw error;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (
      /^Z_|^ERR_ZLIB|^ERR_INVALID_ARG/.test(code) ||
      /incorrect header check|unexpected end of file/.test(String(error))
    ) {
      throw new LogRefusedError('bad-gzip', `not a readable gzip file: ${(error as Error).message}`);
    }
    throw error;
  }
}

function byteCap(max: number, what: string): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      seen += chunk.length;
      if (seen > max) callback(new LogRefusedError('too-large', `log file is over ${max} bytes ${what}`));
      else callback(null, chunk);
    },
  });
}

class Tally {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** The current line is over the cap: drop bytes until its end. */
  private overlong = false;
  private fields?: Map<string, number>;
  private fieldCount = 0;
  private readonly counts = new Map<
    string,
    { service: string; version: string; day: string; count: number }
  >();
  private lines = 0;
  private downloads = 0;
  private ignored = 0;
  private malformed = 0;
  private sawHeader = false;

  constructor(private readonly limits: LogLimits) {}

  write(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(NEWLINE, start);
      const end = newline < 0 ? chunk.length : newline;
      if (!this.overlong) {
        if (this.pendingBytes + (end - start) > this.limits.maxLineBytes) {
          this.overlong = true;
          this.pending = [];
          this.pendingBytes = 0;
        } else if (end > start) {
          this.pending.push(chunk.subarray(start, end));
          this.pendingBytes += end - start;
        }
      }
      if (newline < 0) return;
      this.finishLine();
      start = newline + 1;
    }
  }

  end(): LogTally {
    if (this.pendingBytes > 0 || this.overlong) this.finishLine();
    if (!this.sawHeader)
      throw new LogRefusedError('not-a-log', 'no #Fields: line: not a CloudFront standard log');
    return {
      groups: [...this.counts.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g),
      lines: this.lines,
      downloads: this.downloads,
      ignored: this.ignored,
      malformed: this.malformed,
    };
  }

  private finishLine(): void {
    if (this.overlong) {
      this.overlong = false;
      this.lines++;
      this.malformed++;
      return;
    }
    const line = Buffer.concat(this.pending, this.pendingBytes).toString('utf8').replace(/\r$/, '');
    this.pending = [];
    this.pendingBytes = 0;
    if (line === '') return;
    if (line.startsWith('#')) {
      this.header(line);
      return;
    }
    this.lines++;
    this.request(line);
  }

  private header(line: string): void {
    if (!line.startsWith('#Fields:')) return;
    const names = line.slice('#Fields:'.length).trim().split(/\s+/);
    const missing = REQUIRED_FIELDS.filter((f) => !names.includes(f));
    if (missing.length > 0) {
      throw new LogRefusedError(
        'not-a-log',
        `#Fields: line has no ${missing.join(', ')}: not a CloudFront standard log`,
      );
    }
    this.fields = new Map(names.map((name, i) => [name, i]));
    this.fieldCount = names.length;
    this.sawHeader = true;
  }

  private request(line: string): void {
    const fields = this.fields;
    if (!fields) {
      this.malformed++;
      return;
    }
    const values = line.split('\t');
    if (values.length !== this.fieldCount) {
      this.malformed++;
      return;
    }
    const get = (name: string) => {
      const i = fields.get(name);
      return i === undefined ? undefined : values[i];
    };
    const day = get('date')!;
    if (!isDay(day)) {
      this.malformed++;
      return;
    }
    let path: string;
    try {
      path = decodeURIComponent(get('cs-uri-stem')!);
    } catch {
      this.malformed++;
      return;
    }
    const status = get('sc-status');
    const counted =
      get('cs-method') === 'GET' && (status === '200' || (status === '206' && get('sc-range-start') === '0'));
    const release = counted ? releaseDownloadOf(path) : undefined;
    if (!release) {
      this.ignored++;
      return;
    }
    const key = `${release.service}\t${release.version}\t${day}`;
    const group = this.counts.get(key);
    if (group) group.count++;
    else {
      if (this.counts.size >= this.limits.maxGroups) {
        throw new LogRefusedError(
          'too-many-groups',
          `log file has more than ${this.limits.maxGroups} (service, version, day) counts`,
        );
      }
      this.counts.set(key, { ...release, day, count: 1 });
    }
    this.downloads++;
  }
}

function isDay(value: string): boolean {
  const match = DAY.exec(value);
  if (!match) return false;
  const date = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().startsWith(value);
}
