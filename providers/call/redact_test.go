package call_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/webhost-systems/webhost/providers/cloudflare"
	"github.com/webhost-systems/webhost/providers/fly"
	"github.com/webhost-systems/webhost/providers/hetzner"
	"github.com/webhost-systems/webhost/providers/mail"
	"github.com/webhost-systems/webhost/providers/stripe"
)

// Credentials never reach logs: configs print and log redacted.
func TestConfigsRedactCredentials(t *testing.T) {
	const secret = "SUPERSECRET-value"
	configs := []any{
		hetzner.Config{Token: secret}, fly.Config{Token: secret}, cloudflare.Config{Token: secret, ZoneID: "z"},
		stripe.Config{SecretKey: secret, WebhookSecret: secret}, stripe.Verifier{Secret: secret},
		mail.Config{SMTPPassword: secret, SMTPUsername: "u"},
	}
	for _, c := range configs {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "cfg", c)
		for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%v", &c), buf.String()} {
			if strings.Contains(out, secret) {
				t.Fatalf("%T leaks its secret: %s", c, out)
			}
		}
	}
}
