/**
 * The seed's status table, written out again on purpose: the tests check the
 * server against the document (seed/jobs-api.md), not against the server's
 * own copy of it.
 */
export const STATUSES = ['Pending', 'Assigned', 'In Progress', 'On Hold', 'Completed', 'Invoiced', 'Paid', 'Closed', 'Cancelled'] as const
export type Status = (typeof STATUSES)[number]

export const TABLE: Record<Status, Status[]> = {
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

/** PATCHes that take a new (Pending) job to each status. */
export const WALK: Record<Status, Status[]> = {
  Pending: [],
  Assigned: ['Assigned'],
  'In Progress': ['Assigned', 'In Progress'],
  'On Hold': ['Assigned', 'On Hold'],
  Completed: ['Assigned', 'In Progress', 'Completed'],
  Invoiced: ['Assigned', 'In Progress', 'Completed', 'Invoiced'],
  Paid: ['Assigned', 'In Progress', 'Completed', 'Invoiced', 'Paid'],
  Closed: ['Assigned', 'In Progress', 'Completed', 'Invoiced', 'Paid', 'Closed'],
  Cancelled: ['Cancelled'],
}
