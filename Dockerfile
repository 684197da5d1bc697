# syntax=docker/dockerfile:1
# The service image, one for every role (ROLE=all, api or worker):
#   docker build -t image-pipeline .
# Node 20 is what CI runs; Node 24 (the current LTS) is one build argument away:
#   docker build --build-arg NODE_VERSION=24 -t image-pipeline .
ARG NODE_VERSION=20

# --- deps: every dependency at the lock file's versions, and the generated Prisma client --------
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
# The lock file before the code, so a change to the code does not reinstall the dependencies.
# `npm ci` runs `prepare`, which generates the Prisma client from prisma/schema.prisma.
COPY package.json package-lock.json ./
COPY prisma ./prisma
RUN npm ci --no-audit --no-fund

# --- build: the compiled service, then only the production dependencies -----------------------
FROM deps AS build
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- s3-dev: s3rver, the S3-protocol server the tests use, for compose.yaml only ---------------
# Not for production: one fixed key pair (S3RVER/S3RVER), anonymous reads, files on one disk.
FROM deps AS s3-dev
RUN mkdir -p /s3 && chown node:node /s3
USER node
EXPOSE 9000
VOLUME ["/s3"]
HEALTHCHECK --interval=5s --timeout=3s --retries=20 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9000/').then(() => process.exit(0), () => process.exit(1))"]
ENTRYPOINT ["node", "node_modules/s3rver/bin/s3rver.js"]
CMD ["--directory", "/s3", "--address", "0.0.0.0", "--port", "9000", "--no-vhost-buckets"]

# --- runtime (the default target): the compiled service, run as the unprivileged `node` user ---
FROM node:${NODE_VERSION}-bookworm-slim AS runtime
# Memory tuning, as `npm run start:prod` sets it (README, "Memory"): two malloc arenas, freed
# memory handed back to the system, and a small young generation.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000 \
    DATA_DIR=/data \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072
WORKDIR /app

# Owned by root, so read-only to the service; only DATA_DIR is writable.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/dist ./dist
RUN mkdir -p /data && chown node:node /data

USER node
EXPOSE 4000
VOLUME ["/data"]

# Plain HTTP on loopback: with TLS_CERT_FILE set, check from outside the container instead.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node is PID 1 and the service handles SIGTERM itself: it stops taking work, finishes what it
# holds (up to SHUTDOWN_GRACE_MS) and exits 0.
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=100", "dist/src/main.js"]
