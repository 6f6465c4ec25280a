# javascriptd: the daemon, non-root, production dependencies only.
# The base is a build argument; scripts/docker/base-image.sh makes it locally
# where no registry can be reached.
ARG BASE=node:24-bookworm-slim

# Dependencies and compiling. `javascriptd images build` builds this stage by
# its name first and tags it javascriptd:build, so that it is reused, not left
# behind untagged.
FROM ${BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The client package is a workspace of the daemon's: its run command is the daemon's too.
COPY packages/client/package.json ./packages/client/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY packages/client/tsconfig.json ./packages/client/
COPY packages/client/src ./packages/client/src
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM ${BASE}
# tini reaps zombies and forwards signals to the daemon.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/client/package.json ./packages/client/
COPY --from=build /app/packages/client/dist ./packages/client/dist
COPY bin ./bin
COPY config.schema.json ./
RUN ln -s /app/bin/javascriptd /usr/local/bin/javascriptd
# Listens on all interfaces, and so refuses to start without SECRET unless
# ALLOW_NO_SECRET=true. Caches go to /tmp, the one writable place a
# --read-only container needs (mount a tmpfs there).
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8765 \
    ALLOW_NO_SECRET=false \
    MODULE_PATH=/usr/local/lib/node_modules \
    MODULE_CACHE=/tmp/javascriptd-modules
USER node
EXPOSE 8765
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["javascriptd", "health"]
ENTRYPOINT ["tini", "--", "javascriptd"]
CMD ["serve"]
