/**
 * A reproducible single-file ZIP (the Lambda deployment package of one binary).
 *
 * Written here rather than with a general ZIP library because the packaging step needs three
 * things together that none of them gives: the entry is deflated while the binary is read for the
 * first and only time (so hashing, gzip and zip share one pass), the local header carries the real
 * CRC and sizes (no data descriptor), and every byte is fixed by the input alone: DOS time
 * 1980-01-01 00:00, Unix mode 0755, "made by" Unix, no extra fields. Same input, same bytes.
 *
 * Limits: one entry, under 4 GiB (no ZIP64), which the metadata schema's size cap implies anyway.
 */
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { crc32, createDeflateRaw, type DeflateRaw } from 'node:zlib';
import { finished } from 'node:stream/promises';

const MAX_ZIP32 = 0xffffffff;
/** 1980-01-01 00:00:00, the earliest DOS date: a fixed timestamp keeps output reproducible. */
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;
const VERSION_MADE_BY_UNIX = (3 << 8) | 20;
const VERSION_NEEDED = 20;
const METHOD_DEFLATE = 8;
const UNIX_EXECUTABLE = 0o100755;

export class ZipError extends Error {
  override readonly name = 'ZipError';
}

/**
 * Accepts the entry's bytes chunk by chunk (`write`), deflating them into a scratch file, then
 * `finish` writes the ZIP. Nothing is written at `zipPath` until `finish`.
 */
export class SingleEntryZipWriter {
  private crc = 0;
  private size = 0;
  private readonly deflate: DeflateRaw;
  private readonly scratch: WriteStream;
  private readonly scratchDone: Promise<void>;

  constructor(
    private readonly zipPath: string,
    private readonly entryName: string,
    level = 9,
  ) {
    if (!/^[A-Za-z0-9._-]{1,255}$/.test(entryName)) throw new ZipError(`invalid zip entry name ${entryName}`);
    this.deflate = createDeflateRaw({ level });
    this.scratch = createWriteStream(`${zipPath}.deflate`);
    this.deflate.pipe(this.scratch);
    this.scratchDone = finished(this.scratch);
  }

  /** Adds bytes; resolves when the deflater can take more (backpressure). */
  async write(chunk: Buffer): Promise<void> {
    this.crc = crc32(chunk, this.crc);
    this.size += chunk.length;
    if (!this.deflate.write(chunk)) await once(this.deflate, 'drain');
  }

  /** Ends the entry and writes the ZIP; returns its size. */
  async finish(): Promise<number> {
    this.deflate.end();
    await this.scratchDone;
    const deflatedPath = `${this.zipPath}.deflate`;
    try {
      const compressedSize = this.scratch.bytesWritten;
      if (this.size > MAX_ZIP32 || compressedSize > MAX_ZIP32) {
        throw new ZipError(`zip entry ${this.entryName} is over 4 GiB`);
      }
      const name = Buffer.from(this.entryName, 'utf8');
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(VERSION_NEEDED, 4);
      local.writeUInt16LE(0x0800, 6); // bit 11: the name is UTF-8
      local.writeUInt16LE(METHOD_DEFLATE, 8);
      local.writeUInt16LE(DOS_TIME, 10);
      local.writeUInt16LE(DOS_DATE, 12);
      local.writeUInt32LE(this.crc >>> 0, 14);
      local.writeUInt32LE(compressedSize, 18);
      local.writeUInt32LE(this.size, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);

      const central = Buffer.alloc(46);
      central.writeUInt32LE(0x02014b50, 0);
      central.writeUInt16LE(VERSION_MADE_BY_UNIX, 4);
      central.writeUInt16LE(VERSION_NEEDED, 6);
      central.writeUInt16LE(0x0800, 8);
      central.writeUInt16LE(METHOD_DEFLATE, 10);
      central.writeUInt16LE(DOS_TIME, 12);
      central.writeUInt16LE(DOS_DATE, 14);
      central.writeUInt32LE(this.crc >>> 0, 16);
      central.writeUInt32LE(compressedSize, 20);
      central.writeUInt32LE(this.size, 24);
      central.writeUInt16LE(name.length, 28);
      // extra length, comment length, disk number, internal attributes: all 0
      central.writeUInt32LE((UNIX_EXECUTABLE << 16) >>> 0, 38);
      central.writeUInt32LE(0, 42); // offset of the local header

      const centralOffset = local.length + name.length + compressedSize;
      const end = Buffer.alloc(22);
      end.writeUInt32LE(0x06054b50, 0);
      end.writeUInt16LE(1, 8);
      end.writeUInt16LE(1, 10);
      end.writeUInt32LE(central.length + name.length, 12);
      end.writeUInt32LE(centralOffset, 16);

      const out = await open(this.zipPath, 'w', 0o644);
      try {
        await out.write(Buffer.concat([local, name]));
        const source = await open(deflatedPath, 'r');
        try {
          const buffer = Buffer.alloc(1 << 20);
          for (;;) {
            const { bytesRead } = await source.read(buffer, 0, buffer.length, null);
            if (bytesRead === 0) break;
            await out.write(buffer.subarray(0, bytesRead));
          }
        } finally {
          await source.close();
        }
        await out.write(Buffer.concat([central, name, end]));
      } finally {
        await out.close();
      }
      return centralOffset + central.length + name.length + end.length;
    } finally {
      await rm(deflatedPath, { force: true });
    }
  }

  /** Abandons the entry (on a failed pass); removes the scratch file. */
  async abort(): Promise<void> {
    this.deflate.destroy();
    this.scratch.destroy();
    await rm(`${this.zipPath}.deflate`, { force: true });
  }
}
