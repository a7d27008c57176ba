import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app.ts'

export async function locationsRoutes(_app: FastifyInstance, _context: AppContext): Promise<void> {}
