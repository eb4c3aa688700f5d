import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertElfArchitecture, parseElfHeader, readElfHeader, ElfError } from '../../../lambda/core/elf';

/** An ELF identification + e_type + e_machine, as the System V ABI lays them out. */
function header(opts: {
  cls?: number;
  data?: number;
  version?: number;
  type?: number;
  machine: number;
}): Buffer {
  const bytes = Buffer.alloc(64);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, opts.cls ?? 2, opts.data ?? 1, opts.version ?? 1], 0);
  const little = (opts.data ?? 1) === 1;
  if (little) {
    bytes.writeUInt16LE(opts.type ?? 3, 16);
    bytes.writeUInt16LE(opts.machine, 18);
  } else {
    bytes.writeUInt16BE(opts.type ?? 3, 16);
    bytes.writeUInt16BE(opts.machine, 18);
  }
  return bytes;
}

describe('ELF header', () => {
  test("reads this machine's own node binary as a 64-bit executable of this architecture", async () => {
    const elf = await readElfHeader(process.execPath);
    expect(elf.bits).toBe(64);
    expect(elf.endianness).toBe('little');
    expect(['executable', 'shared-object']).toContain(elf.type);
    expect(elf.architecture).toBe(process.arch === 'arm64' ? 'arm64' : 'x86_64');
  });

  test('names x86_64 and aarch64 machines', () => {
    expect(parseElfHeader(header({ machine: 62 }))).toMatchObject({
      machineName: 'x86_64',
      architecture: 'x86_64',
    });
    expect(parseElfHeader(header({ machine: 183 }))).toMatchObject({
      machineName: 'aarch64',
      architecture: 'arm64',
    });
  });

  test('a 32-bit or big-endian header is no release architecture', () => {
    expect(parseElfHeader(header({ cls: 1, machine: 3 }))).toMatchObject({
      bits: 32,
      machineName: 'x86',
      architecture: undefined,
    });
    expect(parseElfHeader(header({ data: 2, machine: 183 })).architecture).toBeUndefined();
  });

  test('refuses a file without the ELF magic', () => {
    expect(() => parseElfHeader(Buffer.from('#!/bin/sh\necho hi\n'), 'script')).toThrow(
      'script is not an ELF binary (no ELF magic in its first bytes)',
    );
  });

  test('refuses a truncated header', () => {
    expect(() => parseElfHeader(header({ machine: 62 }).subarray(0, 10))).toThrow(ElfError);
  });

  test('refuses an unknown class, encoding or version', () => {
    expect(() => parseElfHeader(header({ cls: 3, machine: 62 }))).toThrow('unknown ELF class 3');
    expect(() => parseElfHeader(header({ data: 0, machine: 62 }))).toThrow('unknown ELF data encoding 0');
    expect(() => parseElfHeader(header({ version: 2, machine: 62 }))).toThrow('unknown ELF version 2');
  });

  test('a machine mismatch names both machines and the run-time error it would cause', () => {
    const x86 = parseElfHeader(header({ machine: 62 }));
    expect(() => assertElfArchitecture(x86, 'arm64', 'bootstrap')).toThrow(
      'bootstrap is a 64-bit x86_64 ELF binary, not arm64 (ELF machine 62, expected 183): it would fail on Lambda with "Exec format error"',
    );
    expect(() => assertElfArchitecture(x86, 'x86_64')).not.toThrow();
  });

  test('a relocatable object is not an executable', () => {
    expect(() => assertElfArchitecture(parseElfHeader(header({ type: 1, machine: 62 })), 'x86_64')).toThrow(
      'ELF relocatable file, not an executable',
    );
  });

  test('reads only the header of a file on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-elf-'));
    try {
      writeFileSync(join(dir, 'arm'), Buffer.concat([header({ machine: 183 }), Buffer.alloc(4096)]));
      expect((await readElfHeader(join(dir, 'arm'))).architecture).toBe('arm64');
      await expect(readElfHeader(join(dir, 'missing'))).rejects.toThrow('ENOENT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
