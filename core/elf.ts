/**
 * Reads an ELF file's header and program headers: enough to tell which machine a binary runs on,
 * and whether the kernel could load it at all. A binary whose machine differs from the one it is
 * released for fails on Lambda with "Exec format error"; one whose program headers or segments
 * are cut off, that has nothing to load, or whose entry point is in no loaded segment fails at exec
 * or crashes at its first instruction. `watchy package` (which the builds run) and the loader
 * check both before anything is written or made executable.
 *
 * Layout (System V ABI, ELF-64 and ELF-32 agree up to e_machine):
 *   0..3 magic 7f 'E' 'L' 'F' | 4 EI_CLASS (1 = 32-bit, 2 = 64-bit) | 5 EI_DATA (1 = LE, 2 = BE)
 *   6 EI_VERSION (1) | 7 EI_OSABI | 16..17 e_type | 18..19 e_machine
 * ELF-64 goes on: 24 e_entry | 32 e_phoff | 54 e_phentsize | 56 e_phnum (64-byte header); each
 * 56-byte program header: 0 p_type | 8 p_offset | 16 p_vaddr | 32 p_filesz | 40 p_memsz.
 *
 * Everything is read from the first ELF_HEAD_BYTES of the file, which the loader already holds
 * from its one streaming pass: linkers put the program header table right after the ELF header
 * (offset 64), and the kernel refuses a table over 64 KiB.
 */
import { open } from 'node:fs/promises';
import type { Architecture } from './artifacts';

/** e_machine values this platform knows by name. */
export const ELF_MACHINES = {
  3: 'x86',
  40: 'arm',
  62: 'x86_64',
  183: 'aarch64',
  243: 'riscv',
} as const satisfies Record<number, string>;

/** The e_machine each release architecture must have. */
export const ARCHITECTURE_MACHINE: Readonly<Record<Architecture, number>> = { x86_64: 62, arm64: 183 };

export const ELF_TYPES = { 1: 'relocatable', 2: 'executable', 3: 'shared-object', 4: 'core' } as const;

export interface ElfHeader {
  readonly bits: 32 | 64;
  readonly endianness: 'little' | 'big';
  /** e_type by name (`executable`, `shared-object` for PIE, ...) or `unknown(n)`. */
  readonly type: string;
  /** Raw e_machine. */
  readonly machine: number;
  /** e_machine by name, or `unknown(n)`. */
  readonly machineName: string;
  /** The release architecture this machine is, when it is one. */
  readonly architecture: Architecture | undefined;
}

export class ElfError extends Error {
  override readonly name = 'ElfError';
}

const HEADER_BYTES = 20;

/** The leading bytes of a file the ELF checks read: the header and program headers lie in them. */
export const ELF_HEAD_BYTES = 64 * 1024;

/** Parses the first 20 bytes of a file; throws ElfError naming what is wrong. */
export function parseElfHeader(bytes: Uint8Array, what = 'file'): ElfHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 4 || buf.readUInt32BE(0) !== 0x7f454c46) {
    throw new ElfError(`${what} is not an ELF binary (no ELF magic in its first bytes)`);
  }
  if (buf.length < HEADER_BYTES) {
    throw new ElfError(`${what} is truncated: ${buf.length} bytes, shorter than an ELF header`);
  }
  const elfClass = buf[4];
  const data = buf[5];
  if (elfClass !== 1 && elfClass !== 2) throw new ElfError(`${what}: unknown ELF class ${elfClass}`);
  if (data !== 1 && data !== 2) throw new ElfError(`${what}: unknown ELF data encoding ${data}`);
  if (buf[6] !== 1) throw new ElfError(`${what}: unknown ELF version ${buf[6]}`);
  const little = data === 1;
  const type = little ? buf.readUInt16LE(16) : buf.readUInt16BE(16);
  const machine = little ? buf.readUInt16LE(18) : buf.readUInt16BE(18);
  const machineName = (ELF_MACHINES as Record<number, string>)[machine] ?? `unknown(${machine})`;
  const architecture = (Object.keys(ARCHITECTURE_MACHINE) as Architecture[]).find(
    (arch) => ARCHITECTURE_MACHINE[arch] === machine && elfClass === 2 && little,
  );
  return {
    bits: elfClass === 2 ? 64 : 32,
    endianness: little ? 'little' : 'big',
    type: (ELF_TYPES as Record<number, string>)[type] ?? `unknown(${type})`,
    machine,
    machineName,
    architecture,
  };
}

/** Reads only the header bytes of `path`. */
export async function readElfHeader(path: string): Promise<ElfHeader> {
  return parseElfHeader(await readElfHead(path, HEADER_BYTES), path);
}

/** The first `bytes` (at most) of `path`, in one read: what `assertElfLoadable` looks at. */
export async function readElfHead(path: string, bytes = ELF_HEAD_BYTES): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(bytes);
    const { bytesRead } = await handle.read(head, 0, bytes, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** Throws ElfError unless `header` is a 64-bit little-endian executable for `architecture`. */
export function assertElfArchitecture(header: ElfHeader, architecture: Architecture, what = 'binary'): void {
  if (header.architecture !== architecture) {
    throw new ElfError(
      `${what} is a ${header.bits}-bit ${header.machineName} ELF binary, not ${architecture} ` +
        `(ELF machine ${header.machine}, expected ${ARCHITECTURE_MACHINE[architecture]}): ` +
        `it would fail on Lambda with "Exec format error"`,
    );
  }
  if (header.type !== 'executable' && header.type !== 'shared-object') {
    throw new ElfError(`${what} is an ELF ${header.type} file, not an executable`);
  }
}

/** p_type values named in messages. */
export const PROGRAM_HEADER_TYPES: Readonly<Record<number, string>> = {
  0: 'PT_NULL',
  1: 'PT_LOAD',
  2: 'PT_DYNAMIC',
  3: 'PT_INTERP',
  4: 'PT_NOTE',
  5: 'PT_SHLIB',
  6: 'PT_PHDR',
  7: 'PT_TLS',
  0x6474e550: 'PT_GNU_EH_FRAME',
  0x6474e551: 'PT_GNU_STACK',
  0x6474e552: 'PT_GNU_RELRO',
  0x6474e553: 'PT_GNU_PROPERTY',
};
const PT_LOAD = 1;
const ELF64_HEADER_BYTES = 64;
const ELF64_PHDR_BYTES = 56;

export interface ElfSegment {
  /** p_type by name (`PT_LOAD`, ...) or `type 0x...`. */
  readonly type: string;
  readonly offset: bigint;
  readonly fileSize: bigint;
  readonly vaddr: bigint;
  readonly memSize: bigint;
}

export interface ElfLayout {
  readonly entry: bigint;
  readonly segments: readonly ElfSegment[];
}

const hex = (n: bigint) => `0x${n.toString(16)}`;

/**
 * Throws ElfError unless the 64-bit little-endian ELF file whose first bytes are `head` (at least
 * min(ELF_HEAD_BYTES, its size)) and whose size is `fileSize` could be loaded: a complete header,
 * a program header table inside the file and inside `head`, every segment's bytes inside the file,
 * at least one PT_LOAD, and the entry point inside a PT_LOAD's memory. Call it after
 * `assertElfArchitecture` (which refuses every other class and byte order).
 */
export function assertElfLoadable(head: Uint8Array, fileSize: number, what = 'binary'): ElfLayout {
  const buf = Buffer.from(head.buffer, head.byteOffset, head.byteLength);
  if (buf[4] !== 2 || buf[5] !== 1) throw new ElfError(`${what} is not a 64-bit little-endian ELF file`);
  if (fileSize < ELF64_HEADER_BYTES || buf.length < ELF64_HEADER_BYTES) {
    throw new ElfError(
      `${what} is truncated: an ELF-64 header is ${ELF64_HEADER_BYTES} bytes, the file has ${fileSize}`,
    );
  }
  const entry = buf.readBigUInt64LE(24);
  const phoff = buf.readBigUInt64LE(32);
  const phentsize = buf.readUInt16LE(54);
  const phnum = buf.readUInt16LE(56);
  if (phnum === 0) {
    throw new ElfError(`${what} has no program headers: an ELF header with nothing for the kernel to load`);
  }
  if (phentsize !== ELF64_PHDR_BYTES) {
    throw new ElfError(
      `${what} has ${phentsize}-byte program headers, not the ${ELF64_PHDR_BYTES} bytes of ELF-64`,
    );
  }
  const tableEnd = phoff + BigInt(phnum * ELF64_PHDR_BYTES);
  if (tableEnd > BigInt(fileSize)) {
    throw new ElfError(
      `${what} is truncated: its program header table (${phnum} entries at offset ${phoff}) ends at byte ${tableEnd}, past the end of the file (${fileSize} bytes)`,
    );
  }
  if (tableEnd > BigInt(buf.length)) {
    throw new ElfError(
      `${what} has its program header table at bytes ${phoff}..${tableEnd}, not within the first ${ELF_HEAD_BYTES} bytes where it is checked`,
    );
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i += 1) {
    const at = Number(phoff) + i * ELF64_PHDR_BYTES;
    const type = buf.readUInt32LE(at);
    const segment: ElfSegment = {
      type: PROGRAM_HEADER_TYPES[type] ?? `type 0x${type.toString(16)}`,
      offset: buf.readBigUInt64LE(at + 8),
      vaddr: buf.readBigUInt64LE(at + 16),
      fileSize: buf.readBigUInt64LE(at + 32),
      memSize: buf.readBigUInt64LE(at + 40),
    };
    const end = segment.offset + segment.fileSize;
    if (segment.fileSize > 0n && end > BigInt(fileSize)) {
      throw new ElfError(
        `${what} is truncated: segment ${i} (${segment.type}) needs bytes ${segment.offset}..${end}, the file has ${fileSize}`,
      );
    }
    segments.push(segment);
  }
  const loads = segments.filter((s) => s.type === PROGRAM_HEADER_TYPES[PT_LOAD]);
  if (loads.length === 0) {
    throw new ElfError(`${what} has no PT_LOAD program header: the kernel would map nothing of it`);
  }
  if (!loads.some((s) => entry >= s.vaddr && entry < s.vaddr + s.memSize)) {
    const shown = loads.slice(0, 4).map((s) => `${hex(s.vaddr)}..${hex(s.vaddr + s.memSize)}`);
    const ranges = shown.join(', ') + (loads.length > 4 ? ` and ${loads.length - 4} more` : '');
    throw new ElfError(
      `${what} has its entry point ${hex(entry)} outside every loaded segment (PT_LOAD ${ranges})`,
    );
  }
  return { entry, segments };
}
