# syntax=docker/dockerfile:1

# Production dependencies only, resolved exactly from the lockfile.
FROM node:20-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

# The service runs its TypeScript through tsx (a production dependency), exactly as `npm start` does:
# one source tree for every runtime, nothing compiled to drift from it.
FROM node:20-bookworm-slim AS runtime
# PASSWORD_HASHER=native: the image ships @node-rs/argon2's glibc binary; if it ever failed to load, the
# service should refuse to start (exit 78) rather than fall back to WebAssembly at about 4× the CPU per login.
ENV NODE_ENV=production \
    AUTHTRAIL_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000 \
    PASSWORD_HASHER=native
WORKDIR /app
# Files stay owned by root: the unprivileged user can run the code but not change it.
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY migrations ./migrations
COPY src ./src
COPY bin ./bin
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form with node itself as PID 1 (not the tsx CLI, which forks): SIGTERM reaches the graceful shutdown.
# The same image runs the relay beside the database: `docker run … authtrail node bin/authtrail.js relay`.
CMD ["node", "--import", "tsx", "src/runtime/node.ts"]
