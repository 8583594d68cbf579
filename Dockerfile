# The webhost binary: one image for every subcommand (serve, sync, sim, migrate).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/webhost ./cmd/webhost

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/webhost /usr/local/bin/webhost
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/webhost"]
CMD ["serve"]
