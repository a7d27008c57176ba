/** How commands speak: text for people, one JSON document with --json; errors on stderr. */

export function print(json: boolean, value: unknown, text: string) {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`)
}

export function fail(json: boolean, message: string): never {
  process.stderr.write(json ? `${JSON.stringify({ error: message })}\n` : `fsm: ${message}\n`)
  process.exit(1)
}
