import type { MongoClientOptions } from 'mongodb'
import type { Env } from '../../config/env.ts'

/**
 * The MongoDB client's TLS from MONGO_TLS_CA and MONGO_TLS_CERT_KEY (PEM files: the CA the server's
 * certificate must chain to; the client certificate followed by its private key). Either turns TLS on.
 * X.509 client authentication is chosen in MONGO_URL (`authMechanism=MONGODB-X509&authSource=$external`):
 * the server then maps the certificate's subject to a user. The driver reads the files when it connects.
 *
 * @example
 * new MongoClient(env.MONGO_URL, mongoClientOptions(env))
 */
export function mongoClientOptions(env: Pick<Env, 'MONGO_TLS_CA' | 'MONGO_TLS_CERT_KEY'>): MongoClientOptions {
  if (env.MONGO_TLS_CA === undefined && env.MONGO_TLS_CERT_KEY === undefined) return {}
  return {
    tls: true,
    ...(env.MONGO_TLS_CA !== undefined && { tlsCAFile: env.MONGO_TLS_CA }),
    ...(env.MONGO_TLS_CERT_KEY !== undefined && { tlsCertificateKeyFile: env.MONGO_TLS_CERT_KEY }),
  }
}
