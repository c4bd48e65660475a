# syntax=docker/dockerfile:1

# hookworker: a static binary on Alpine, run as an unprivileged user.
#
#   docker build -t hookworker --build-arg VERSION=1.2.3 .
#   docker run --rm -e HOOKWORKER_NATS_URL=nats://nats:4222 -p 9464:9464 hookworker

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/hookworker/hookworker/internal/build.Version=${VERSION}" \
      -o /out/hookworker ./cmd/hookworker

FROM alpine:3.22
# ca-certificates for HTTPS destinations and proxies; busybox wget serves the
# health check.
RUN apk add --no-cache ca-certificates tzdata \
 && addgroup -S -g 10001 hookworker \
 && adduser -S -D -H -u 10001 -G hookworker hookworker \
 && mkdir -p /data \
 && chown hookworker:hookworker /data
COPY --from=build /out/hookworker /usr/local/bin/hookworker

# /metrics, /healthz and /readyz. Without HOOKWORKER_NATS_URL the worker runs
# an embedded JetStream server that keeps its store in /data.
ENV HOOKWORKER_HTTP_ADDR=:9464 \
    HOOKWORKER_EMBEDDED_DIR=/data
EXPOSE 9464
VOLUME ["/data"]
USER hookworker:hookworker
WORKDIR /data

# Liveness: the process serves HTTP. Readiness (/readyz: connected to NATS,
# streams in place) is for orchestrators that route or wait on it; a worker
# waiting for NATS is healthy, not broken.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD wget -q -O /dev/null http://127.0.0.1:9464/healthz || exit 1

# SIGTERM lets in-flight jobs finish (HOOKWORKER_SHUTDOWN_TIMEOUT, 30s by
# default); give the container at least that long to stop.
STOPSIGNAL SIGTERM
ENTRYPOINT ["hookworker"]
