# syntax=docker/dockerfile:1
# The temporal-mlflow image: a worker by default; `serve`, `codec-server` or any other CLI command
# by overriding the command, e.g. `docker run IMAGE serve -m models:/my-model@champion --host 0.0.0.0`.
#
# The CLI runs the TypeScript sources through tsx (a runtime dependency), so there is no build step:
# the first stage installs the production dependencies, the second adds the sources on top.

# Pinned to the Node release the test-suite runs on (engines: node >= 20.3).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only: tsx, esbuild (model packaging) and the Temporal SDK with its
# prebuilt native core bridge are all runtime dependencies.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    TEMPORAL_ADDRESS=temporal:7233 \
    MLFLOW_TRACKING_URI=http://mlflow:5000
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node . .
USER node
# Prometheus metrics (`--metrics-port 9464`), the model server (`serve --port 8000`), the codec server (8888).
EXPOSE 9464 8000 8888
# `docker stop` sends SIGTERM: the worker stops polling and lets running nodes finish within its
# shutdown grace time (give the container a longer stop_grace_period than that).
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "bin/temporal-mlflow.js"]
CMD ["worker", "--project", "/app/examples/support-tickets"]
