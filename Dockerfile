# Gatehouse as a container image.
#   docker build -t gatehouse .
#   docker run -d -p 8000:8000 -v gatehouse-data:/data -e EMAIL_FLOWS=false gatehouse
# Two stages: "build" (the Node 20 image) installs every dependency (TypeScript, and the
# compiler better-sqlite3 needs), builds dist/ and prunes to the production dependencies;
# the final stage is the Debian slim image that Node image is built on, plus its `node`
# binary, dist/, migrations/ and those production dependencies: no npm, yarn or C headers
# (~70 MB the server never uses). See README, "Running it in a container".
ARG NODE_IMAGE=node:20-bookworm-slim
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${NODE_IMAGE} AS build
# better-sqlite3 compiles from source (nothing is downloaded at install); node-gyp takes the
# headers the Node image ships in /usr/local/include instead of downloading them.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
ENV npm_config_nodedir=/usr/local \
    npm_config_build_from_source=true \
    npm_config_update_notifier=false
WORKDIR /app
COPY package.json package-lock.json ./
# The SDKs (packages/*) are npm workspaces of this repository: their manifests keep the
# lock file consistent; the server image contains none of their code.
COPY packages/client/package.json ./packages/client/
COPY packages/node/package.json ./packages/node/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# After the build, only production dependencies, without what only a compiler or an editor
# reads (type declarations, source maps, READMEs), and of better-sqlite3 only its compiled
# module (its SQLite sources and object files are ~30 MB the server never reads).
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \
      -o \( -name '*.md' -not -iname 'license*' \) \) -delete \
 && cd node_modules/better-sqlite3 \
 && mv build/Release/better_sqlite3.node /tmp/ \
 && rm -rf build deps src \
 && mkdir -p build/Release \
 && mv /tmp/better_sqlite3.node build/Release/

FROM ${DEBIAN_IMAGE}
# The official Node image's unprivileged user, and its Node binary (it needs only libc and
# libstdc++, which Debian slim has).
RUN groupadd --gid 1000 node \
 && useradd --uid 1000 --gid node --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin node
COPY --from=build /usr/local/bin/node /usr/local/bin/node
# Inside a container the server must listen on every interface. NODE_ENV=production
# enforces the production rules (SMTP_URL, or EMAIL_FLOWS=false, is required).
# MALLOC_ARENA_MAX=2: as `npm start` (README, Memory): glibc keeps fewer per-thread arenas.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY migrations ./migrations
# The code belongs to root and is read-only for the server; only /data is its own. The
# default DATABASE_URL (file:./data/gatehouse.sqlite, from /app) lands in the /data volume
# through a link rather than an ENV line, so DATABASE_URL_FILE works without unsetting it.
RUN mkdir /data && chown node:node /data && ln -s /data /app/data \
 && chmod +x dist/cli.js && ln -s /app/dist/cli.js /usr/local/bin/gatehouse
VOLUME /data
USER node
EXPOSE 8000
# Node runs as PID 1 (no shell, no npm in between): SIGTERM reaches the server itself,
# which stops accepting, finishes in-flight requests and closes the database (`docker
# stop` waits 10 s by default; the server forces its own exit after 10 s too). It starts
# no child processes, so there are no orphans to reap.
STOPSIGNAL SIGTERM
# No curl in a slim image: Node asks /healthz itself.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "require('http').get({host:'127.0.0.1',port:process.env.PORT,path:'/healthz',timeout:4000},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
# The `gatehouse` command: `docker run IMAGE migrate`, `docker exec CONTAINER gatehouse ...`
# work as documented; the young-generation cap is the one `npm start` uses (README, Memory).
ENTRYPOINT ["node", "--max-semi-space-size=4", "/app/dist/cli.js"]
CMD ["serve"]
