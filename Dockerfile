# Multi-stage build of medslice's programs as static binaries on a distroless,
# non-root base. There is no Docker engine on the development machines, so
# this is built elsewhere (see README, "Images").
# RUNTIME_IMAGE is the distroless static image (static-debian12:nonroot) as
# your registry mirrors it; pass it with --build-arg.
ARG BUILD_IMAGE=golang:1.26
ARG RUNTIME_IMAGE=distroless/static-debian12:nonroot

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
RUN go build -ldflags='-s -w' -o /out/ ./cmd/medslice-operator ./cmd/medslice-core-emulator ./cmd/medslice-reflector

FROM ${RUNTIME_IMAGE}
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/medslice-operator"]
