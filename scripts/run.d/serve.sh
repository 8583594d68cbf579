# Sourced by scripts/run.sh before it starts `webhost serve`: prints where
# the control plane answers.
_webhost_addr="${WEBHOST_HTTP_ADDR:-127.0.0.1:8080}"
echo "WebHost control plane:"
echo "  API      http://${_webhost_addr}/v1"
echo "  docs     http://${_webhost_addr}/docs   (OpenAPI: /openapi.json)"
echo "  health   http://${_webhost_addr}/healthz   (metrics: /metrics)"
echo "  operator key: ./bin/webhost admin create-key"
