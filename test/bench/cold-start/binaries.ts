/**
 * Benchmark binaries made from real executable bytes: whole ELF executables from /usr/bin
 * (sorted by name, so the same machine always makes the same file) concatenated and cut to the
 * exact size, so the file starts with a real ELF header and compresses like real binaries do.
 * Each size is made once per machine and kept in $TMPDIR with its .gz and metadata fields.
 */
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export interface BenchBinary {
  readonly sizeMiB: number;
  readonly rawPath: string;
  readonly gzPath: string;
  readonly binarySize: number;
  readonly sha256: string;
  readonly compressedSize: number;
  readonly compressedSha256: string;
}

const DIR = join(tmpdir(), 'watchy-bench-cold-start');

function elfExecutables(): string[] {
  const names = readdirSync('/usr/bin').sort();
  const files: string[] = [];
  for (const name of names) {
    const path = join('/usr/bin', name);
    try {
      const stat = statSync(path);
      if (!stat.isFile() || stat.size < 4096 || (stat.mode & 0o111) === 0) continue;
      const fd = openSync(path, 'r');
      const head = Buffer.alloc(4);
      readSync(fd, head, 0, 4, 0);
      closeSync(fd);
      if (head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) files.push(path);
    } catch {
      // unreadable entries are skipped
    }
  }
  return files;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function benchBinary(sizeMiB: number): BenchBinary {
  mkdirSync(DIR, { recursive: true });
  const base = join(DIR, `elf-${sizeMiB}mib`);
  const infoPath = `${base}.json`;
  if (existsSync(infoPath)) return JSON.parse(readFileSync(infoPath, 'utf8')) as BenchBinary;
  const size = sizeMiB * 1024 * 1024;
  const raw = Buffer.alloc(size);
  let offset = 0;
  const sources = elfExecutables();
  if (sources.length === 0) throw new Error('no ELF executables found in /usr/bin');
  while (offset < size) {
    for (const path of sources) {
      if (offset >= size) break;
      offset += readFileSync(path).copy(raw, offset);
    }
  }
  const gz = gzipSync(raw, { level: 6 });
  const rawPath = base;
  const gzPath = `${base}.gz`;
  for (const [path, bytes] of [
    [rawPath, raw],
    [gzPath, gz],
  ] as const) {
    const fd = openSync(`${path}.tmp`, 'w');
    writeSync(fd, bytes);
    closeSync(fd);
    renameSync(`${path}.tmp`, path);
  }
  const info: BenchBinary = {
    sizeMiB,
    rawPath,
    gzPath,
    binarySize: raw.length,
    sha256: sha256(raw),
    compressedSize: gz.length,
    compressedSha256: sha256(gz),
  };
  writeFileSync(infoPath, JSON.stringify(info));
  return info;
}
