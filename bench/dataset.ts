/**
 * What a benchmark data set is: its size, where its SQLite file is cached,
 * and the metadata stored inside it (table bench_meta) so a run can find the
 * companies and their API keys again (a key is shown only once, at creation).
 */
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
export const DATA_DIR = join(BENCH_DIR, 'data')
export const RESULTS_DIR = join(BENCH_DIR, 'results')
export const REPO_DIR = dirname(BENCH_DIR)

/**
 * Bumped whenever the generator changes what it writes, so a cached file of
 * an older generator is not reused by mistake (it is part of the file name
 * and of the metadata).
 */
export const GENERATOR_VERSION = 4

export type SizeName = 'full' | 'quick'

export interface CompanyShape {
  jobs: number
  customers: number
  locations: number
  technicians: number
  assets: number
}

export interface DataSize {
  name: SizeName
  /** The company the scenarios run on, then the nine small ones. */
  big: CompanyShape
  small: CompanyShape
  smallCompanies: number
}

/**
 * The data set: one company with 1,000,000 jobs and nine with 10,000;
 * 50,000 locations, 500 technicians, 20,000 assets in all. Records are split
 * roughly by the work each company does (a company with a hundred times the
 * jobs has about ninety times the locations and forty times the technicians).
 * `quick` is the same shape at a tenth.
 */
export const SIZES: Record<SizeName, DataSize> = {
  full: {
    name: 'full',
    big: { jobs: 1_000_000, customers: 18_200, locations: 45_500, technicians: 410, assets: 18_200 },
    small: { jobs: 10_000, customers: 200, locations: 500, technicians: 10, assets: 200 },
    smallCompanies: 9,
  },
  quick: {
    name: 'quick',
    big: { jobs: 100_000, customers: 1_820, locations: 4_550, technicians: 41, assets: 1_820 },
    small: { jobs: 1_000, customers: 20, locations: 50, technicians: 1, assets: 20 },
    smallCompanies: 9,
  },
}

export function totalJobs(size: DataSize): number {
  return size.big.jobs + size.small.jobs * size.smallCompanies
}

export function sqliteDataFile(size: DataSize, seed: number): string {
  return join(DATA_DIR, `bench-${size.name}-${seed}-v${GENERATOR_VERSION}.db`)
}

export interface MetaCompany {
  company_id: number
  company_name: string
  jobs: number
  key_id: number
  /** The company's API key (every scope, a huge rate limit). A bench database only. */
  api_key: string
}

export interface BenchMeta {
  generator_version: number
  size: SizeName
  seed: number
  /** The "now" of the data set (Unix seconds): recent jobs are open, older ones closed. */
  now: number
  generated_at: string
  generation_seconds: number
  /** companies[0] is the big one. */
  companies: MetaCompany[]
  counts: Record<string, number>
}

/** The metadata table is created by the generator; the application never reads it. */
export const META_TABLE = 'bench_meta'
