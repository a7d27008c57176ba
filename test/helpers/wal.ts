/** Reading a SQLite WAL file's header, and waiting for the checkpoint worker, for tests of checkpoints. */
import { closeSync, openSync, readSync } from 'node:fs'

/**
 * The checkpoint sequence number in a WAL file's header: SQLite adds one
 * each time it starts the WAL over. Undefined before a header is written.
 */
export function walCheckpointSequence(file: string): number | undefined {
  const header = Buffer.alloc(32)
  const fd = openSync(file, 'r')
  try {
    if (readSync(fd, header, 0, 32, 0) < 32) return undefined
  } finally {
    closeSync(fd)
  }
  const magic = header.readUInt32BE(0)
  if (magic !== 0x377f0682 && magic !== 0x377f0683) return undefined
  return header.readUInt32BE(12)
}

/** The same, for a WAL that must have a header by now. */
export function walSequenceNow(file: string): number {
  const sequence = walCheckpointSequence(file)
  if (sequence === undefined) throw new Error(`${file} has no WAL header`)
  return sequence
}

/** Resolves once `condition` holds (polled every 20 ms: the checkpoint worker reports every 50 ms); throws after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
