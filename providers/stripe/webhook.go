package stripe

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// Webhook verification errors.
var (
	// ErrInvalidSignature: the Stripe-Signature header does not verify
	// (wrong secret, tampered body, or a timestamp outside the tolerance).
	ErrInvalidSignature = errors.New("stripe: invalid webhook signature")
	// ErrAPIVersionMismatch: the event was rendered for another API version
	// than stripe-go's (stripego.APIVersion). The webhook endpoint at Stripe
	// must be created with that version; see Verifier.
	ErrAPIVersionMismatch = errors.New("stripe: webhook event API version mismatch")
)

// Verifier checks webhook signatures with webhook.ConstructEvent.
//
// API versions: ConstructEvent rejects an event whose api_version differs
// from stripego.APIVersion, because stripe-go would decode it into the
// wrong shapes. We keep that check and surface it as ErrAPIVersionMismatch
// (distinct from a bad signature, which is checked first), so a
// misconfigured endpoint is visible instead of silently misparsed. Set
// AllowAPIVersionMismatch only during an endpoint version migration.
type Verifier struct {
	Secret                  string
	Tolerance               time.Duration // default webhook.DefaultTolerance (5 min)
	AllowAPIVersionMismatch bool
}

// Verify returns the event of payload signed in header.
func (v Verifier) Verify(payload []byte, header string) (stripego.Event, error) {
	tol := v.Tolerance
	if tol == 0 {
		tol = webhook.DefaultTolerance
	}
	if err := webhook.ValidatePayloadWithTolerance(payload, header, v.Secret, tol); err != nil {
		return stripego.Event{}, fmt.Errorf("%w: %v", ErrInvalidSignature, err)
	}
	ev, err := webhook.ConstructEventWithOptions(payload, header, v.Secret, webhook.ConstructEventOptions{
		Tolerance: tol, IgnoreAPIVersionMismatch: v.AllowAPIVersionMismatch})
	if err != nil {
		var probe struct {
			APIVersion string `json:"api_version"`
		}
		if json.Unmarshal(payload, &probe) == nil && probe.APIVersion != stripego.APIVersion {
			return stripego.Event{}, fmt.Errorf("%w: event %s, stripe-go %s", ErrAPIVersionMismatch, probe.APIVersion, stripego.APIVersion)
		}
		return stripego.Event{}, fmt.Errorf("stripe: webhook: %w", err)
	}
	return ev, nil
}

// SignatureHeader computes a Stripe-Signature header for payload the way
// Stripe does: "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<payload>")>".
func SignatureHeader(payload []byte, secret string, at time.Time) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(payload)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// WebhookSender posts signed events to a webhook endpoint, as Stripe does;
// tests and `make run` use it in place of Stripe, which stripe-mock cannot
// replace (it sends no webhooks).
type WebhookSender struct {
	URL    string
	Secret string
	Client *http.Client     // default http.DefaultClient
	Now    func() time.Time // default time.Now
}

// ErrWebhookRejected is returned when the endpoint answers non-2xx.
var ErrWebhookRejected = errors.New("stripe: webhook rejected")

// NewEvent renders an event of type typ around object in the shape Stripe
// sends, with stripe-go's API version.
func NewEvent(id, typ string, object any, created time.Time) ([]byte, error) {
	raw, err := json.Marshal(object)
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": stripego.APIVersion, "created": created.Unix(),
		"type": typ, "livemode": false, "pending_webhooks": 1,
		"data":    map[string]json.RawMessage{"object": raw},
		"request": map[string]any{"id": nil, "idempotency_key": nil},
	})
}

// Send posts payload signed with the sender's secret.
func (s WebhookSender) Send(ctx context.Context, payload []byte) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	cl := s.Client
	if cl == nil {
		cl = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL, bytes.NewReader(payload))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", SignatureHeader(payload, s.Secret, now()))
	resp, err := cl.Do(req)
	if err != nil {
		return fmt.Errorf("stripe: send webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%w: HTTP %d", ErrWebhookRejected, resp.StatusCode)
	}
	return nil
}

// LogValue implements slog.LogValuer with the secret redacted.
func (v Verifier) LogValue() slog.Value { return slog.StringValue(v.String()) }
