import { generateSigningKey } from '../auth/tokens.ts'

// Prints a new Ed25519 private JWK for JWT_SIGNING_KEY; its kid names the day it was made, for rotation.
const kid = process.argv[2] ?? `authtrail-${new Date().toISOString().slice(0, 10)}-${crypto.randomUUID().slice(0, 8)}`
console.log(JSON.stringify(await generateSigningKey(kid)))
