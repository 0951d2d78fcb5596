# One image for the five services; the command picks the service:
#   node dist/registration.mjs | dist/authorization.mjs | dist/token.mjs | dist/mcp-tools.mjs | dist/admin.mjs
# (and `node dist/users-cli.mjs add <name>` to add a user; `node dist/nats-setup.mjs` for NATS credentials,
# configuration and streams). Configuration is environment variables (see services/*/src/config.ts), each
# of which can instead be read from a file named by <NAME>_FILE (compose secrets); docker-compose.yml wires
# them (docker-compose.cluster.yml over it for a three-node NATS), which needs Docker Compose 2.20 or newer.
# The SQLite projections live in DATA_DIR inside the container: each replica rebuilds its own from the NATS
# stream, so they need no volume.

ARG NODE_IMAGE=node:20-bookworm-slim

# 1. Build: the whole workspace, bundled by esbuild into dist/<service>.mjs. Install scripts are not
#    needed for that (esbuild finds its binary without them; better-sqlite3 is not bundled), so none run.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY . .
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm run build

# 2. Runtime dependencies: the bundles inline every dependency except the native better-sqlite3, so
#    the runtime gets only deploy/runtime/package.json (better-sqlite3, pinned to the root lockfile's
#    version) installed with `npm ci --omit=dev`. Its install script downloads a prebuilt binary, or
#    compiles one with the toolchain installed here (this stage only); the C sources and build
#    intermediates are dropped afterwards.
FROM ${NODE_IMAGE} AS runtime-deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY deploy/runtime/package.json deploy/runtime/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

# 3. Runtime: node, the bundles and better-sqlite3; no compilers, no npm install at start, not root.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--enable-source-maps \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
WORKDIR /app
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# Example operator tools (TOOL_MODULES=examples/tools/dice.mjs).
COPY examples ./examples
RUN mkdir -p /app/data && chown node:node /app/data
# The `node` user (uid 1000) of the official image.
USER node
CMD ["node", "dist/mcp-tools.mjs"]
