#!/usr/bin/env node
// The `fsm` command. The TypeScript sources run through tsx's loader, so a
// checkout works right after `npm ci` with no build step (API.md §6).
import { register } from 'tsx/esm/api'

register()
await import('../src/cli/main.ts')
