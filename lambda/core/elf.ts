/**
 * Reads the identifying part of an ELF header: enough to tell which machine a binary runs on.
 * A binary whose machine differs from the one it is released for fails on Lambda with
 * "Exec format error"; the builds and `watchy package` check this before anything is written.
 *
 * Layout (System V ABI, ELF-64 and ELF-32 agree up to e_machine):
 *   0..3 magic 7f 'E' 'L' 'F' | 4 EI_CLASS (1 = 32-bit, 2 = 64-bit) | 5 EI_DATA (1 = LE, 2 = BE)
 *   6 EI_VERSION (1) | 7 EI_OSABI | 16..17 e_type | 18..19 e_machine
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

/** Parses the first 20 bytes of a file; throws ElfError naming what is wrong. */
export function parseElfHeader(bytes: Uint8Array, what = 'file'): ElfHeader {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < HEADER_BYTES || buf.readUInt32BE(0) !== 0x7f454c46) {
    throw new ElfError(`${what} is not an ELF binary (no ELF magic in its first bytes)`);
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
  const handle = await open(path, 'r');
  try {
    const bytes = Buffer.alloc(HEADER_BYTES);
    const { bytesRead } = await handle.read(bytes, 0, HEADER_BYTES, 0);
    return parseElfHeader(bytes.subarray(0, bytesRead), path);
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
