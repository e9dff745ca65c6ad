/**
 * A stand-in for a fixture that a beforeAll hook creates: declared at the top of a test file, it reads
 * and writes through to the fixture once it exists, and says which fixture is missing if used before.
 */
export function lateBound<T extends object>(what: string, current: () => T | undefined): T {
  const target = () => {
    const value = current()
    if (value === undefined) throw new Error(`${what} is used before its beforeAll hook created it`)
    return value
  }
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(target(), key),
    set: (_, key, value) => Reflect.set(target(), key, value),
    has: (_, key) => Reflect.has(target(), key),
    ownKeys: () => Reflect.ownKeys(target()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(target(), key)
      return descriptor && { ...descriptor, configurable: true }
    },
  })
}
