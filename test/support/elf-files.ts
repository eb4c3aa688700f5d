/**
 * ELF-64 little-endian files built byte by byte (System V ABI layout), and the table of broken
 * ones that `watchy package` and the loader must refuse: each with the one line it is refused
 * with. Shared by test/core/elf.test.ts, test/cli/package.test.ts and the loader tests.
 */
import { readFileSync } from 'node:fs';
import type { Architecture } from '@core/artifacts';

export const PT_LOAD = 1;
export const PT_NOTE = 4;
export const PT_GNU_STACK = 0x6474e551;
const MACHINE: Record<Architecture, number> = { x86_64: 62, arm64: 183 };

export interface ProgramHeader {
  readonly type: number;
  readonly offset: number;
  readonly vaddr: number;
  readonly fileSize: number;
  readonly memSize: number;
}

export interface CraftOptions {
  readonly architecture: Architecture;
  readonly entry: number;
  readonly programHeaders: readonly ProgramHeader[];
  /** e_phoff. @default 64 (right after the header) */
  readonly phoff?: number;
  /** e_phnum, when it should claim more (or fewer) entries than are written. @default programHeaders.length */
  readonly phnum?: number;
  /** Total file size (zero-padded); at least what the headers need. @default header + table */
  readonly size?: number;
  /** e_type. @default 3 (shared object: a PIE executable) */
  readonly type?: number;
}

/** An ELF-64 LE file: the 64-byte header, the program headers at `phoff`, zeros up to `size`. */
export function craftElf(options: CraftOptions): Buffer {
  const phoff = options.phoff ?? 64;
  const phnum = options.phnum ?? options.programHeaders.length;
  const tableEnd = options.programHeaders.length ? phoff + options.programHeaders.length * 56 : 64;
  const file = Buffer.alloc(Math.max(options.size ?? 0, tableEnd, 64));
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  file.writeUInt16LE(options.type ?? 3, 16);
  file.writeUInt16LE(MACHINE[options.architecture], 18);
  file.writeUInt32LE(1, 20); // e_version
  file.writeBigUInt64LE(BigInt(options.entry), 24);
  file.writeBigUInt64LE(BigInt(phnum ? phoff : 0), 32);
  file.writeUInt16LE(64, 52); // e_ehsize
  file.writeUInt16LE(56, 54); // e_phentsize
  file.writeUInt16LE(phnum, 56);
  file.writeUInt16LE(64, 58); // e_shentsize
  options.programHeaders.forEach((ph, i) => {
    const at = phoff + i * 56;
    file.writeUInt32LE(ph.type, at);
    file.writeUInt32LE(ph.type === PT_LOAD ? 5 : 4, at + 4); // p_flags: R+X for loads, R otherwise
    file.writeBigUInt64LE(BigInt(ph.offset), at + 8);
    file.writeBigUInt64LE(BigInt(ph.vaddr), at + 16);
    file.writeBigUInt64LE(BigInt(ph.vaddr), at + 24);
    file.writeBigUInt64LE(BigInt(ph.fileSize), at + 32);
    file.writeBigUInt64LE(BigInt(ph.memSize), at + 40);
    file.writeBigUInt64LE(0x1000n, at + 48);
  });
  return file;
}

const BASE = 0x400000;

/** A well-formed file: one PT_LOAD mapping all of it at 0x400000, the entry just past the headers. */
export function loadableElf(architecture: Architecture, size = 4096): Buffer {
  return craftElf({
    architecture,
    entry: BASE + 0x78,
    size,
    programHeaders: [{ type: PT_LOAD, offset: 0, vaddr: BASE, fileSize: size, memSize: size }],
  });
}

/** A real binary of this machine (/bin/true) relabelled for `architecture` (e_machine only). */
export function realElf(architecture: Architecture): Buffer {
  const bytes = Buffer.from(readFileSync('/bin/true'));
  bytes.writeUInt16LE(MACHINE[architecture], 18);
  return bytes;
}

export interface BrokenElf {
  readonly name: string;
  /** What is wrong; files of one kind are refused with the same line (up to numbers). */
  readonly kind:
    | 'no-program-headers'
    | 'table-past-eof'
    | 'segment-past-eof'
    | 'no-load'
    | 'entry-outside'
    | 'header-truncated';
  readonly bytes: Buffer;
  /** The one line it is refused with, given how the file is named in messages. */
  readonly message: (what: string) => string | RegExp;
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The whole line `broken` is refused with: `prefix` + its message for `what`. */
export function refusalLine(broken: BrokenElf, what: string, prefix = ''): RegExp {
  const message = broken.message(what);
  const body = typeof message === 'string' ? escape(message) : message.source.replace(/^\^|\$$/g, '');
  return new RegExp(`^${escape(prefix)}${body}$`);
}

/** Every way an ELF with the right machine can still be unloadable, each refused with its own line. */
export function brokenElfs(architecture: Architecture): BrokenElf[] {
  const real = realElf(architecture);
  const half = Math.floor(real.length / 2);
  const realPhnum = real.readUInt16LE(56);
  return [
    {
      name: 'a header only (no program headers)',
      kind: 'no-program-headers',
      bytes: craftElf({ architecture, entry: BASE, programHeaders: [] }),
      message: (what) => `${what} has no program headers: an ELF header with nothing for the kernel to load`,
    },
    {
      name: 'a program header table past the end of the file',
      kind: 'table-past-eof',
      bytes: craftElf({ architecture, entry: BASE, programHeaders: [], phnum: 4, size: 120 }),
      message: (what) =>
        `${what} is truncated: its program header table (4 entries at offset 64) ends at byte 288, past the end of the file (120 bytes)`,
    },
    {
      name: 'a segment whose p_offset + p_filesz exceeds the file',
      kind: 'segment-past-eof',
      bytes: craftElf({
        architecture,
        entry: BASE + 0x78,
        size: 4096,
        programHeaders: [
          { type: PT_LOAD, offset: 0, vaddr: BASE, fileSize: 4096, memSize: 4096 },
          { type: PT_LOAD, offset: 0x1000, vaddr: BASE + 0x2000, fileSize: 0x3000, memSize: 0x3000 },
        ],
      }),
      message: (what) =>
        `${what} is truncated: segment 1 (PT_LOAD) needs bytes 4096..16384, the file has 4096`,
    },
    {
      name: 'no PT_LOAD',
      kind: 'no-load',
      bytes: craftElf({
        architecture,
        entry: BASE,
        size: 4096,
        programHeaders: [
          { type: PT_NOTE, offset: 0x200, vaddr: BASE + 0x200, fileSize: 0x20, memSize: 0x20 },
          { type: PT_GNU_STACK, offset: 0, vaddr: 0, fileSize: 0, memSize: 0 },
        ],
      }),
      message: (what) => `${what} has no PT_LOAD program header: the kernel would map nothing of it`,
    },
    {
      name: "an entry point outside every PT_LOAD's addresses",
      kind: 'entry-outside',
      bytes: craftElf({
        architecture,
        entry: 0x500000,
        size: 4096,
        programHeaders: [
          { type: PT_LOAD, offset: 0, vaddr: BASE, fileSize: 4096, memSize: 4096 },
          { type: PT_LOAD, offset: 0, vaddr: BASE + 0x2000, fileSize: 4096, memSize: 0x2000 },
        ],
      }),
      message: (what) =>
        `${what} has its entry point 0x500000 outside every loaded segment (PT_LOAD 0x400000..0x401000, 0x402000..0x404000)`,
    },
    {
      name: 'a real binary (/bin/true) cut in half',
      kind: 'segment-past-eof',
      bytes: real.subarray(0, half),
      message: (what) =>
        new RegExp(
          `^${escape(what)} is truncated: segment \\d+ \\(PT_LOAD\\) needs bytes \\d+\\.\\.\\d+, the file has ${half}$`,
        ),
    },
    {
      name: 'a real binary (/bin/true) cut inside its program header table',
      kind: 'table-past-eof',
      bytes: real.subarray(0, 500),
      message: (what) =>
        `${what} is truncated: its program header table (${realPhnum} entries at offset 64) ends at byte ${64 + realPhnum * 56}, past the end of the file (500 bytes)`,
    },
    {
      name: 'a real binary (/bin/true) cut inside its ELF header',
      kind: 'header-truncated',
      bytes: real.subarray(0, 40),
      message: (what) => `${what} is truncated: an ELF-64 header is 64 bytes, the file has 40`,
    },
  ];
}
