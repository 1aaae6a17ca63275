# Build the kargo binary (manager + CLI subcommands).
FROM golang:1.26 AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Cache the modules before copying the sources, so a source change does not
# download them again.
COPY go.mod go.sum ./
RUN go mod download

# The sources.
COPY . .

RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} go build -trimpath -o kargo .

# A minimal, non-root runtime image.
# See https://github.com/GoogleContainerTools/distroless
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/kargo /kargo
USER 65532:65532

ENTRYPOINT ["/kargo"]
CMD ["manager"]
