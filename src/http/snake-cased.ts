type SnakeCase<S extends string> = S extends `${infer Head}${infer Tail}`
  ? `${Head extends Lowercase<Head> ? Head : `_${Lowercase<Head>}`}${SnakeCase<Tail>}`
  : S

/** An object type with its camelCase keys spelled in snake_case. */
export type SnakeCased<T> = { [K in keyof T as K extends string ? SnakeCase<K> : K]: T[K] }

/**
 * The object with its camelCase keys in snake_case, the API's spelling (one level deep, key order kept):
 * use cases speak TypeScript, the wire speaks snake_case.
 *
 * @example
 * snakeCased({ eventId: 'e1', lastError: 'refused' }) // { event_id: 'e1', last_error: 'refused' }
 */
export function snakeCased<T extends object>(value: T): SnakeCased<T> {
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), v])) as SnakeCased<T>
}
