/**
 * The job lifecycle: the seed's status table, verbatim and in its order
 * (the order is visible in /jobs/transitions and in error messages).
 */
export const JOB_STATUSES = ['Pending', 'Assigned', 'In Progress', 'On Hold', 'Completed', 'Invoiced', 'Paid', 'Closed', 'Cancelled'] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

export const JOB_PRIORITIES = ['Low', 'Medium', 'High', 'Urgent'] as const
export type JobPriority = (typeof JOB_PRIORITIES)[number]

export const RELATIONSHIP_TYPES = ['serviced', 'installed', 'replaced', 'inspected', 'maintenance', 'meter_threshold'] as const

export const TRANSITIONS: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  Pending: ['Assigned', 'Cancelled'],
  Assigned: ['In Progress', 'Pending', 'Cancelled', 'On Hold'],
  'In Progress': ['Completed', 'Assigned', 'On Hold', 'Cancelled'],
  'On Hold': ['In Progress', 'Assigned', 'Cancelled'],
  Completed: ['Invoiced'],
  Invoiced: ['Paid'],
  Paid: ['Closed'],
  Cancelled: [],
  Closed: [],
}

/** Jobs in these statuses are read-only for PUT (API.md §4). */
export const LOCKED_STATUSES: ReadonlySet<JobStatus> = new Set(['Closed', 'Cancelled'])

export function canTransition(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to)
}

/**
 * The message for a refused change: names the current status and what it
 * may become. A change to the status the job has is worded so whatever the
 * status, terminal ones included.
 */
export function transitionRefusal(from: JobStatus, to: JobStatus): string {
  const allowed = TRANSITIONS[from]
  const opening = from === to ? `Job is already ${from}` : `Cannot change status from ${from} to ${to}`
  if (allowed.length === 0) return `${opening}: ${from} is a terminal status with no further transitions`
  return `${opening}. Allowed transitions from ${from}: ${allowed.join(', ')}`
}
