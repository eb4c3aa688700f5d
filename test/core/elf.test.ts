import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  assertElfArchitecture,
  assertElfLoadable,
  parseElfHeader,
  readElfHead,
  readElfHeader,
  ElfError,
  ELF_HEAD_BYTES,
} from '@core/elf';
import { brokenElfs, craftElf, loadableElf, PT_LOAD, refusalLine } from '../support/elf-files';

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
    expect(() => parseElfHeader(header({ machine: 62 }).subarray(0, 10), 'bin')).toThrow(
      new ElfError('bin is truncated: 10 bytes, shorter than an ELF header'),
    );
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

describe('ELF program headers: could the kernel load it', () => {
  const ARCHITECTURES = ['x86_64', 'arm64'] as const;

  test.each(ARCHITECTURES)('a well-formed %s file passes and its PT_LOAD is read', (architecture) => {
    const file = loadableElf(architecture);
    expect(parseElfHeader(file).architecture).toBe(architecture);
    const layout = assertElfLoadable(file, file.length, 'elf');
    expect(layout.entry).toBe(0x400078n);
    expect(layout.segments).toEqual([
      { type: 'PT_LOAD', offset: 0n, vaddr: 0x400000n, fileSize: 4096n, memSize: 4096n },
    ]);
  });

  test("real binaries pass: /bin/true and this machine's node, from their first 64 KiB only", async () => {
    for (const path of ['/bin/true', process.execPath]) {
      const head = await readElfHead(path);
      expect(head.length).toBe(Math.min(ELF_HEAD_BYTES, statSync(path).size));
      const layout = assertElfLoadable(head, statSync(path).size, path);
      expect(layout.segments.some((s) => s.type === 'PT_LOAD')).toBe(true);
    }
  });

  for (const architecture of ARCHITECTURES) {
    test.each(brokenElfs(architecture).map((b) => [b.name, b] as const))(
      `${architecture}: %s is refused with its own line`,
      (_name, broken) => {
        // The machine is right: only the layout is wrong.
        expect(parseElfHeader(broken.bytes).architecture).toBe(architecture);
        let error: unknown;
        try {
          assertElfLoadable(broken.bytes.subarray(0, ELF_HEAD_BYTES), broken.bytes.length, 'binary x');
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(ElfError);
        const message = (error as Error).message;
        expect(message).not.toContain('\n');
        expect(message).toMatch(refusalLine(broken, 'binary x'));
      },
    );
  }

  test('each kind of broken file has its own line; a cut real binary gets the line of its kind', () => {
    const shapes = new Map<string, Set<string>>();
    for (const broken of brokenElfs('x86_64')) {
      let line = 'passed';
      try {
        assertElfLoadable(broken.bytes, broken.bytes.length, 'binary');
      } catch (error) {
        line = (error as Error).message.replace(/\d+/g, 'N');
      }
      shapes.set(broken.kind, (shapes.get(broken.kind) ?? new Set()).add(line));
    }
    expect([...shapes.keys()].sort()).toEqual([
      'entry-outside',
      'header-truncated',
      'no-load',
      'no-program-headers',
      'segment-past-eof',
      'table-past-eof',
    ]);
    for (const lines of shapes.values()) expect(lines.size).toBe(1);
    const all = [...shapes.values()].map((lines) => [...lines][0]);
    expect(new Set(all).size).toBe(all.length);
    expect(all).not.toContain('passed');
  });

  test('a program header table beyond the first 64 KiB is refused (the loader checks only what it kept)', () => {
    const size = ELF_HEAD_BYTES + 4096;
    const file = craftElf({
      architecture: 'x86_64',
      entry: 0x400078,
      phoff: ELF_HEAD_BYTES,
      size,
      programHeaders: [{ type: PT_LOAD, offset: 0, vaddr: 0x400000, fileSize: size, memSize: size }],
    });
    expect(() => assertElfLoadable(file.subarray(0, ELF_HEAD_BYTES), size, 'binary')).toThrow(
      `binary has its program header table at bytes ${ELF_HEAD_BYTES}..${ELF_HEAD_BYTES + 56}, not within the first ${ELF_HEAD_BYTES} bytes where it is checked`,
    );
  });

  test('program headers of another size than ELF-64 are refused', () => {
    const file = loadableElf('arm64');
    file.writeUInt16LE(32, 54);
    expect(() => assertElfLoadable(file, file.length)).toThrow(
      'binary has 32-byte program headers, not the 56 bytes of ELF-64',
    );
  });

  test('huge 64-bit offsets are compared exactly, not rounded', () => {
    const file = craftElf({
      architecture: 'x86_64',
      entry: 0x400078,
      size: 4096,
      programHeaders: [
        { type: PT_LOAD, offset: 0, vaddr: 0x400000, fileSize: 4096, memSize: 4096 },
        { type: PT_LOAD, offset: 0, vaddr: 0x500000, fileSize: 4096, memSize: 4096 },
      ],
    });
    file.writeBigUInt64LE(2n ** 64n - 1n, 64 + 56 + 8); // p_offset of segment 1: 2^64 - 1
    expect(() => assertElfLoadable(file, file.length)).toThrow(
      'binary is truncated: segment 1 (PT_LOAD) needs bytes 18446744073709551615..18446744073709555711, the file has 4096',
    );
  });

  test('a real binary read from disk: one read of its first bytes gives the same answer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'watchy-elf-'));
    try {
      const cut = join(dir, 'cut');
      writeFileSync(cut, readFileSync('/bin/true').subarray(0, 500));
      expect(() => assertElfLoadable(readFileSync(cut), 500, 'cut')).toThrow(
        /^cut is truncated: its program header table/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
