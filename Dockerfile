# syntax=docker/dockerfile:1
# Multi-stage build: dependencies are compiled in their own cached layer (cargo-chef), the
# runtime image holds only the binary, libpq and curl (for the health check), and runs as a
# non-root user.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-slim-bookworm AS chef
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq-dev pkg-config \
 && rm -rf /var/lib/apt/lists/* \
 && cargo install cargo-chef --locked
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
# Only the dependencies: this layer is reused until Cargo.toml or Cargo.lock change.
RUN cargo chef cook --release --locked --package api --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --package api \
 && strip target/release/api

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpq5 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/facturacion --create-home facturacion
COPY --from=builder /app/target/release/api /usr/local/bin/facturacion-api
USER facturacion
WORKDIR /var/lib/facturacion
ENV APP_ENV=production \
    BIND_ADDRESS=0.0.0.0:8080 \
    DATA_DIR=/var/lib/facturacion \
    RUST_LOG=info
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/facturacion-api"]
