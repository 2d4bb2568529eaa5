# syntax=docker/dockerfile:1
#
# Waymark image: one static binary, no shell, runs as a non-root user.
#   docker build -t waymark:dev --build-arg VERSION=$(git describe --tags --always) .
#   docker run --rm -p 8080:8080 -v waymark-data:/data waymark:dev              # embedded mode (serve)
#   docker run --rm --env-file waymark.env waymark:dev web|worker|migrate       # split mode
#   docker inspect --format '{{.State.Health.Status}}' CONTAINER                # HEALTHCHECK: waymark healthcheck
# See docs/deploy.md. cmd/waymark/deploy_test.go keeps this file in step with the binary.

# ---- build ------------------------------------------------------------------
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG VERSION=dev
# Static, reproducible binary. Time zones are embedded by the binary itself
# (nodes imports time/tzdata); templ output and static assets are committed.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/waymark ./cmd/waymark \
 && mkdir -p /out/data

# ---- run --------------------------------------------------------------------
# distroless/static: CA certificates, /usr/share/zoneinfo, /etc/passwd with
# the "nonroot" user (65532), nothing else — no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/waymark /usr/local/bin/waymark
# /data belongs to the runtime user so a fresh named volume is writable
# (embedded mode keeps its SQLite file and generated key there).
COPY --from=build --chown=65532:65532 /out/data /data
# serve and web listen on 8080; worker serves /healthz, /readyz and its own
# /metrics on 9090 (WAYMARK_WORKER_LISTEN_ADDR; web and serve ignore it).
ENV WAYMARK_LISTEN_ADDR=0.0.0.0:8080 \
    WAYMARK_WORKER_LISTEN_ADDR=0.0.0.0:9090 \
    WAYMARK_DATA_DIR=/data \
    WAYMARK_LOG_FORMAT=json
USER 65532:65532
WORKDIR /data
EXPOSE 8080 9090
# No shell or curl in the image: the binary probes itself. It tries 8080,
# then 9090 — whichever this container's role serves answers (migrate
# serves neither; its container is gone before the first probe).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/waymark", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/waymark"]
CMD ["serve"]
