# Keystead: release build in the Rust image, run from debian-slim as a non-root user.
#   docker build -t keystead .
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://user:pass@db:5432/keystead \
#     -e KEYSTEAD_ENCRYPTION_KEY=<base64 of 32 bytes> keystead
# The container has no embedded PostgreSQL: DATABASE_URL is required (the entrypoint exits
# with an explanation when it is unset).

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# `tests/` is copied because Cargo.toml declares the `api` test target explicitly.
COPY Cargo.toml Cargo.lock build.rs ./
COPY migrations ./migrations
COPY src ./src
COPY templates ./templates
COPY tests ./tests
RUN cargo build --release --locked --bin keystead \
    && install -m 0755 target/release/keystead /usr/local/bin/keystead

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --user-group --uid 10001 --home-dir /var/lib/keystead --shell /usr/sbin/nologin keystead \
    && install -d -o keystead -g keystead -m 0700 /var/lib/keystead
COPY --from=builder /usr/local/bin/keystead /usr/local/bin/keystead
COPY docker/entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
ENV KEYSTEAD_BIND=0.0.0.0:8080 \
    KEYSTEAD_DATA_DIR=/var/lib/keystead \
    KEYSTEAD_LOG_FORMAT=json
USER keystead:keystead
WORKDIR /var/lib/keystead
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["serve"]
