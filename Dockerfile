# syntax=docker/dockerfile:1
# The awsops controller image: built in a Rust image, run from distroless as
# a non-root user. The dependency layer is rebuilt only when Cargo.toml or
# Cargo.lock change.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
# Stubs for every target Cargo.toml names, or cargo refuses the manifest (the
# bench stub stays: the image's own build reads the same manifest).
RUN mkdir src benches && echo 'fn main() {}' > src/main.rs && touch src/lib.rs \
 && echo 'fn main() {}' > benches/bench.rs \
 && cargo build --release --locked \
 && rm -rf src
COPY src ./src
RUN touch src/main.rs src/lib.rs && cargo build --release --locked --bin awsops

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/awsops /usr/local/bin/awsops
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/awsops"]
CMD ["controller"]
