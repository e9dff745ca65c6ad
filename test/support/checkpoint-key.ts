/**
 * A throwaway Ed25519 checkpoint signing key for tests and benchmarks that start production processes
 * (production refuses to start without one). Public in this repository, so it proves nothing: never use
 * it for a deployment.
 */
export const TEST_CHECKPOINT_SIGNING_KEY = '-----BEGIN PRIVATE KEY-----\\nMC4CAQAwBQYDK2VwBCIEIEiCwbp3Laie1UMkkhphHJSPO4efWwJA/XKYR7m+ptnN\\n-----END PRIVATE KEY-----'
