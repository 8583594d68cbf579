package hetzner

import (
	"fmt"
	"strings"
)

// DefaultSyncServerImage is the sync server image installed when a spec
// names none.
const DefaultSyncServerImage = "ghcr.io/webhost-systems/webhost:latest"

// CloudInit returns the cloud-config user data of a hobby server: it
// installs PostgreSQL 15 with PostGIS, Redis, Docker running the sync server
// (port 4000, behind Caddy for TLS on 80/443), and a firewall that opens
// only 22, 80 and 443. Database credentials are generated on the server, so
// the user data carries no secret.
func CloudInit(syncServerImage string) string {
	if syncServerImage == "" {
		syncServerImage = DefaultSyncServerImage
	}
	// Only characters valid in an image reference survive, so the image
	// cannot break out of the YAML or the shell.
	clean := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("./:-_@", r) {
			return r
		}
		return -1
	}, syncServerImage)
	return fmt.Sprintf(`#cloud-config
package_update: true
packages:
  - postgresql-15
  - postgresql-15-postgis-3
  - redis-server
  - docker.io
  - caddy
  - ufw
write_files:
  - path: /etc/caddy/Caddyfile
    content: |
      :443, :80 {
        reverse_proxy 127.0.0.1:4000
      }
runcmd:
  - [sh, -c, "ufw default deny incoming && ufw allow 22/tcp && ufw allow 80/tcp && ufw allow 443/tcp && ufw --force enable"]
  - [sh, -c, "install -d -m 0700 /etc/webhost && test -f /etc/webhost/db.env || echo \"PGPASSWORD=$(head -c 24 /dev/urandom | base64 | tr -dc A-Za-z0-9)\" > /etc/webhost/db.env && chmod 0600 /etc/webhost/db.env"]
  - [sh, -c, ". /etc/webhost/db.env && sudo -u postgres psql -c \"CREATE ROLE webhost LOGIN PASSWORD '$PGPASSWORD'\" && sudo -u postgres createdb -O webhost webhost && sudo -u postgres psql -d webhost -c 'CREATE EXTENSION IF NOT EXISTS postgis'"]
  - [systemctl, enable, --now, redis-server]
  - [sh, -c, ". /etc/webhost/db.env && docker run -d --name webhost-sync --restart=always --network=host -e WEBHOST_DATABASE_URL=postgres://webhost:$PGPASSWORD@127.0.0.1:5432/webhost -e WEBHOST_REDIS_URL=redis://127.0.0.1:6379 %s sync --addr 127.0.0.1:4000"]
  - [systemctl, restart, caddy]
`, clean)
}
