# auditd container image: a static binary on a small base. Build with
#   docker build -t auditd .
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/auditd ./cmd/auditd

FROM debian:bookworm-slim
RUN useradd --system --uid 10001 auditd
COPY --from=build /out/auditd /usr/local/bin/auditd
USER auditd
EXPOSE 8080
# In a container the dashboard must listen on all interfaces, so auditd
# needs AUDITD_PUBLIC_URL (the https address users open, behind your TLS
# proxy; see the README) and refuses --auth=off.
ENV AUDITD_LISTEN=0.0.0.0:8080
ENTRYPOINT ["/usr/local/bin/auditd"]
CMD ["serve"]
