/** Whether dist/ holds a build of the current src/ (scripts/build-stamp.mjs). */
export function isBuildFresh(): boolean
