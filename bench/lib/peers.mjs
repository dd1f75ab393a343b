/**
 * The tools our users would pick instead (issue 7), installed by the bench into a temp directory,
 * never into the project: `npm install --prefix <tmp> dbmate node-pg-migrate pg`. A peer that
 * cannot be installed or does not run is reported and left out; the bench carries on.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The packages installed, in one `npm install`. */
export const PEER_PACKAGES = ['dbmate', 'node-pg-migrate', 'pg'];

async function npmInstall(prefix, packages) {
  // dbmate ships its Go binary in an optional platform package (@dbmate/linux-x64): no install script runs.
  await execFileAsync(npm, ['install', '--prefix', prefix, '--no-audit', '--no-fund', '--loglevel=error', ...packages], {
    cwd: prefix, timeout: 300_000, maxBuffer: 16 << 20,
  });
}

function version(prefix, pkg) {
  try {
    return JSON.parse(fs.readFileSync(path.join(prefix, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}

/** dbmate's npm package resolves @dbmate/<platform>-<arch>/bin/dbmate; we call both. */
function dbmateBinary(prefix) {
  const file = path.join(prefix, 'node_modules', '@dbmate', `${process.platform}-${process.arch}`, 'bin', process.platform === 'win32' ? 'dbmate.exe' : 'dbmate');
  return fs.existsSync(file) ? file : undefined;
}

async function runs(file, args) {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: 30_000 });
    return { ok: true, output: stdout.trim() };
  } catch (error) {
    return { ok: false, output: (error.stderr || error.message || '').toString().trim().split('\n').at(-1) };
  }
}

/**
 * Installs (or reuses, with `dir`) the peers. Returns { dir, cleanup, dbmate?, nodePgMigrate?, missing: [reasons] }:
 * dbmate = { bin (Go binary), wrapper (the npm `dbmate` command, a Node script that spawns it), version },
 * nodePgMigrate = { bin (its Node script), version }.
 */
export async function installPeers({ dir, log }) {
  let prefix = dir;
  let cleanup = async () => {};
  const missing = [];
  if (!prefix) {
    prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-peers-'));
    cleanup = async () => fs.rmSync(prefix, { recursive: true, force: true });
    fs.writeFileSync(path.join(prefix, 'package.json'), JSON.stringify({ name: 'strata-bench-peers', private: true }));
    log(`installing ${PEER_PACKAGES.join(', ')} into ${prefix}`);
    try {
      await npmInstall(prefix, PEER_PACKAGES);
    } catch (error) {
      log(`npm install of the peers together failed (${String(error.stderr || error.message).trim().split('\n').at(-1)}); trying one by one`);
      for (const pkg of PEER_PACKAGES) {
        await npmInstall(prefix, [pkg]).catch((e) => missing.push(`${pkg}: npm install failed: ${String(e.stderr || e.message).trim().split('\n').at(-1)}`));
      }
    }
  }
  const result = { dir: prefix, cleanup, missing };

  const bin = dbmateBinary(prefix);
  const wrapper = path.join(prefix, 'node_modules', 'dbmate', 'dist', 'cli.js');
  if (!bin) {
    missing.push('dbmate: no platform binary (@dbmate/<platform>-<arch>) was installed');
  } else {
    const check = await runs(bin, ['--version']);
    if (check.ok) result.dbmate = { bin, wrapper: fs.existsSync(wrapper) ? wrapper : undefined, version: version(prefix, 'dbmate') ?? check.output };
    else missing.push(`dbmate: its binary does not run (${check.output})`);
  }

  const npmBin = path.join(prefix, 'node_modules', 'node-pg-migrate', 'bin', 'node-pg-migrate.js');
  if (!fs.existsSync(npmBin)) {
    missing.push('node-pg-migrate: not installed');
  } else if (!version(prefix, 'pg')) {
    missing.push('node-pg-migrate: its peer dependency pg is not installed');
  } else {
    const check = await runs(process.execPath, [npmBin, '--version']);
    if (check.ok) result.nodePgMigrate = { bin: npmBin, version: version(prefix, 'node-pg-migrate'), pg: version(prefix, 'pg') };
    else missing.push(`node-pg-migrate: does not run (${check.output})`);
  }
  for (const reason of missing) log(`peer left out: ${reason}`);
  return result;
}
