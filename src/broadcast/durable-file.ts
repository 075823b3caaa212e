/**
 * Files that are on the disk when the call returns, and whole or absent after a crash or a power
 * loss: written to a temporary name, fsynced, renamed into place, and the directory fsynced (a
 * rename is only durable once its directory is). A failed write leaves no temporary file behind.
 */
import fsp from 'node:fs/promises';
import path from 'node:path';

/** Writes `data` to `file` durably and atomically. */
export async function writeDurably(file: string, data: Buffer): Promise<void> {
  const tmp = `${file}.tmp`;
  try {
    const handle = await fsp.open(tmp, 'w');
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw err;
  }
  await syncDir(path.dirname(file));
}

/**
 * Appends `text` to `file` and fsyncs it. An append that fails part-way (a full disk) is cut back
 * off, so a retry never leaves a torn line in the middle of the file.
 */
export async function appendDurably(file: string, text: string): Promise<void> {
  const handle = await fsp.open(file, 'a');
  let size = 0;
  try {
    size = (await handle.stat()).size;
    await handle.appendFile(text);
    await handle.datasync();
  } catch (err) {
    await handle.truncate(size).catch(() => undefined);
    throw err;
  } finally {
    await handle.close();
  }
  if (size === 0) await syncDir(path.dirname(file));
}

/** Makes a file already written (by another process) durable where it is. */
export function syncFile(file: string): Promise<void> {
  return syncPath(file, 'r+');
}

/** Makes the entries of a directory (files created, renamed or removed in it) durable. */
export function syncDir(dir: string): Promise<void> {
  return syncPath(dir, 'r');
}

async function syncPath(target: string, flags: string): Promise<void> {
  const handle = await fsp.open(target, flags);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
