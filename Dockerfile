# syntax=docker/dockerfile:1
# Rostrum in a container: the embedded default (SQLite, in-process), one node.
# UNTESTED HERE: the machines this project is built on have no Docker engine. Its two stages are the
# steps test/production-install.test.ts runs for real (a build with the development dependencies,
# then only the runtime ones); docs/deploy.md says how to run it (deploy/docker/compose.yaml).
#
#   docker build -t rostrum .
#   docker run --network host --env-file deploy/rostrum.env -v rostrum-data:/data rostrum
#
# Host networking is the simple way for WebRTC (as LiveKit advises): the stage's port range and the
# announced address are the host's. With port mappings instead, publish 8080/tcp and the whole
# ROSTRUM_RTC_PORT_RANGE on udp and tcp, one to one, and set ROSTRUM_RTC_ANNOUNCED_IP to the host's
# public address.

FROM node:22-bookworm-slim AS build
# Native addons (better-sqlite3, @discordjs/opus) build from source.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY . .
# npm ci runs `prepare`: TypeScript into dist/, the web app into dist/app/. Then only what runs stays.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
# ffmpeg encodes the broadcast; tini reaps it and forwards SIGTERM (Rostrum drains on it).
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/web ./web
COPY --from=build /app/node_modules ./node_modules
RUN mkdir /data && chown node:node /data
USER node
ENV ROSTRUM_HOST=0.0.0.0 \
    ROSTRUM_PORT=8080 \
    ROSTRUM_DATA=/data \
    NODE_ENV=production
VOLUME /data
EXPOSE 8080/tcp 50000-50100/udp 50000-50100/tcp
HEALTHCHECK --interval=10s --timeout=3s CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.ROSTRUM_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/rostrum.js", "serve"]
