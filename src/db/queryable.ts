import type postgres from 'postgres'

/** What runs a query: the client (Sql) or a transaction (Tx), for reads that work in either. */
export type Queryable = postgres.ISql<{}>
