package stripe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/webhost-systems/webhost/processes"
	"github.com/webhost-systems/webhost/providers/call"
	"github.com/webhost-systems/webhost/providers/providertest"
	"github.com/webhost-systems/webhost/providers/stripe"
)

var (
	mockOnce sync.Once
	mockURL  string
	mockErr  error
	mockCmd  *exec.Cmd
)

// stripeMock starts one stripe-mock for the package on a free port.
func stripeMock(t *testing.T) string {
	t.Helper()
	mockOnce.Do(func() {
		bin, err := exec.LookPath("stripe-mock")
		if err != nil {
			home, _ := os.UserHomeDir()
			gopath := os.Getenv("GOPATH")
			if gopath == "" {
				gopath = filepath.Join(home, "go")
			}
			bin = filepath.Join(gopath, "bin", "stripe-mock")
			if _, serr := os.Stat(bin); serr != nil {
				mockErr = fmt.Errorf("stripe-mock not found on PATH or in %s (go install github.com/stripe/stripe-mock@latest)", filepath.Dir(bin))
				return
			}
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			mockErr = err
			return
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		cmd := exec.Command(bin, "-http-addr", addr)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			mockErr = err
			return
		}
		mockCmd = cmd
		for range 200 {
			if c, err := net.Dial("tcp", addr); err == nil {
				_ = c.Close()
				mockURL = "http://" + addr
				return
			}
			time.Sleep(25 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		mockErr = fmt.Errorf("stripe-mock did not listen on %s", addr)
	})
	if mockErr != nil {
		if os.Getenv("WEBHOST_TEST_STRICT") == "1" {
			t.Fatalf("stripe-mock required: %v", mockErr)
		}
		t.Skipf("skipping: %v", mockErr)
	}
	return mockURL
}

func TestMain(m *testing.M) {
	code := m.Run()
	if mockCmd != nil {
		_ = mockCmd.Process.Kill()
		_ = mockCmd.Wait()
	}
	os.Exit(code)
}

// recorder records requests and can fail the first n POSTs with status.
type recorder struct {
	mu       sync.Mutex
	base     http.RoundTripper
	keys     []string
	failNext int
	status   int
	retryHdr string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	if req.Method == http.MethodPost {
		r.keys = append(r.keys, req.Header.Get("Idempotency-Key"))
		if r.failNext > 0 {
			r.failNext--
			r.mu.Unlock()
			typ := "api_error"
			if r.status < 500 && r.status != 429 {
				typ = "invalid_request_error"
			}
			body := fmt.Sprintf(`{"error":{"type":%q,"code":"parameter_invalid_integer","message":"simulated %d"}}`, typ, r.status)
			h := http.Header{"Content-Type": {"application/json"}}
			if r.retryHdr != "" {
				h.Set("Retry-After", r.retryHdr)
			}
			return &http.Response{StatusCode: r.status, Header: h, Body: io.NopCloser(strings.NewReader(body)), Request: req}, nil
		}
	}
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func newClient(t *testing.T, rec *recorder, sleeps *[]time.Duration) *stripe.Client {
	t.Helper()
	url := stripeMock(t)
	if rec.base == nil {
		rec.base = http.DefaultTransport
	}
	c, err := stripe.New(stripe.Config{SecretKey: "sk_test_123", APIURL: url, HTTPClient: &http.Client{Transport: rec},
		Retry: call.Policy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}},
		call.WithSleep(func(ctx context.Context, d time.Duration) error {
			if sleeps != nil {
				*sleeps = append(*sleeps, d)
			}
			return ctx.Err()
		}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAcceptanceAgainstStripeMock(t *testing.T) {
	rec := &recorder{}
	providertest.Billing(t, newClient(t, rec, nil), providertest.BillingFeatures{Stateful: false})
	for _, k := range rec.keys {
		if !strings.HasPrefix(k, "webhost:") {
			t.Fatalf("POST without our idempotency key: %q", k)
		}
	}
}

func TestServerErrorRetriedWithSameIdempotencyKey(t *testing.T) {
	rec := &recorder{failNext: 2, status: 500}
	c := newClient(t, rec, nil)
	if _, err := c.EnsureCustomer(context.Background(), processes.CustomerSpec{CommandID: "cmd-42", Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if len(rec.keys) != 3 || rec.keys[0] != "webhost:create_customer:cmd-42" || rec.keys[1] != rec.keys[0] || rec.keys[2] != rec.keys[0] {
		t.Fatalf("keys = %q, want three POSTs with one key", rec.keys)
	}
}

func TestRateLimitHonoursRetryAfter(t *testing.T) {
	rec := &recorder{failNext: 1, status: 429, retryHdr: "7"}
	var sleeps []time.Duration
	c := newClient(t, rec, &sleeps)
	if _, err := c.EnsureCustomer(context.Background(), processes.CustomerSpec{CommandID: "cmd-7", Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	if len(sleeps) != 1 || sleeps[0] != 7*time.Second {
		t.Fatalf("sleeps = %v, want the 7s Retry-After", sleeps)
	}
}

func TestPermanentNotRetried(t *testing.T) {
	rec := &recorder{failNext: 1, status: 400}
	c := newClient(t, rec, nil)
	_, err := c.CreateCheckoutSession(context.Background(), processes.CheckoutSpec{CommandID: "cmd-bad", BillingCustomerID: "cus_1", PriceID: "price_1",
		SuccessURL: "https://x/ok", CancelURL: "https://x/no"})
	providertest.RequireKind(t, err, processes.ErrPermanent)
	var pe *processes.ProviderError
	if errors.As(err, &pe); pe.StatusCode != 400 || pe.Code != "parameter_invalid_integer" {
		t.Fatalf("error = %+v", pe)
	}
	if len(rec.keys) != 1 {
		t.Fatalf("POSTs = %d, want 1", len(rec.keys))
	}
}

func TestMissingCommandIDRefused(t *testing.T) {
	c := newClient(t, &recorder{}, nil)
	_, err := c.EnsureCustomer(context.Background(), processes.CustomerSpec{Email: "a@example.com"})
	if !errors.Is(err, stripe.ErrMissingCommandID) || !errors.Is(err, processes.ErrPermanent) {
		t.Fatalf("err = %v", err)
	}
}

func TestTimeoutRespectsContext(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(3 * time.Second):
		}
	}))
	defer slow.Close()
	c, err := stripe.New(stripe.Config{SecretKey: "sk_test_1", APIURL: slow.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = c.Subscription(ctx, "sub_1")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline", err)
	}
}

func TestWebhookSignatureVerifiesWithConstructEvent(t *testing.T) {
	secret := "whsec_test_secret"
	payload, err := stripe.NewEvent("evt_1", "customer.subscription.updated", map[string]any{"id": "sub_1", "object": "subscription", "status": "active"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	header := stripe.SignatureHeader(payload, secret, time.Now())
	ev, err := webhook.ConstructEvent(payload, header, secret)
	if err != nil || ev.ID != "evt_1" || ev.Type != "customer.subscription.updated" {
		t.Fatalf("ConstructEvent = %+v, %v", ev, err)
	}
	v := stripe.Verifier{Secret: secret}
	if _, err := v.Verify(payload, header); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(payload, stripe.SignatureHeader(payload, "whsec_other", time.Now())); !errors.Is(err, stripe.ErrInvalidSignature) {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := v.Verify(payload, stripe.SignatureHeader(payload, secret, time.Now().Add(-time.Hour))); !errors.Is(err, stripe.ErrInvalidSignature) {
		t.Fatalf("stale timestamp: %v", err)
	}
}

func TestWebhookAPIVersionMismatch(t *testing.T) {
	secret := "whsec_x"
	payload := []byte(`{"id":"evt_2","object":"event","api_version":"2020-08-27","type":"invoice.paid","data":{"object":{}}}`)
	header := stripe.SignatureHeader(payload, secret, time.Now())
	if _, err := webhook.ConstructEvent(payload, header, secret); err == nil {
		t.Fatal("ConstructEvent accepted an event of another API version; the documented behaviour changed")
	}
	if _, err := (stripe.Verifier{Secret: secret}).Verify(payload, header); !errors.Is(err, stripe.ErrAPIVersionMismatch) {
		t.Fatalf("Verify = %v, want ErrAPIVersionMismatch", err)
	}
	ev, err := (stripe.Verifier{Secret: secret, AllowAPIVersionMismatch: true}).Verify(payload, header)
	if err != nil || ev.ID != "evt_2" {
		t.Fatalf("with AllowAPIVersionMismatch: %+v, %v", ev, err)
	}
	if stripego.APIVersion == "2020-08-27" {
		t.Fatal("test needs a version other than stripe-go's")
	}
}

func TestWebhookSenderPostsSignedEvents(t *testing.T) {
	secret := "whsec_send"
	var got stripego.Event
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, err := webhook.ConstructEvent(body, r.Header.Get("Stripe-Signature"), secret)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got = ev
	}))
	defer srv.Close()
	payload, _ := stripe.NewEvent("evt_3", "checkout.session.completed", map[string]any{"id": "cs_1", "object": "checkout.session"}, time.Now())
	if err := (stripe.WebhookSender{URL: srv.URL, Secret: secret}).Send(context.Background(), payload); err != nil {
		t.Fatal(err)
	}
	if got.ID != "evt_3" {
		t.Fatalf("received %+v", got)
	}
	if err := (stripe.WebhookSender{URL: srv.URL, Secret: "whsec_wrong"}).Send(context.Background(), payload); !errors.Is(err, stripe.ErrWebhookRejected) {
		t.Fatalf("wrong secret: %v", err)
	}
}

// FuzzVerify feeds arbitrary webhook bodies and signature headers to the
// verifier: it must return an event only for a correct signature, and a
// typed error otherwise, never panic.
func FuzzVerify(f *testing.F) {
	secret := "whsec_fuzz"
	good, _ := stripe.NewEvent("evt_f", "invoice.paid", map[string]any{"id": "in_1", "object": "invoice"}, time.Unix(1_700_000_000, 0))
	f.Add(good, "", false)
	f.Add([]byte(`{"api_version":"2020-08-27"}`), "t=1,v1=00", true)
	f.Add([]byte(`not json`), "t=abc,v1=zz,v0=1", false)
	v := stripe.Verifier{Secret: secret, Tolerance: 100 * 365 * 24 * time.Hour}
	f.Fuzz(func(t *testing.T, payload []byte, header string, sign bool) {
		if sign {
			header = stripe.SignatureHeader(payload, secret, time.Now())
		}
		_, err := v.Verify(payload, header)
		if err == nil && !sign {
			t.Fatalf("accepted a payload we did not sign: %q", header)
		}
		if err != nil && !sign && !errors.Is(err, stripe.ErrInvalidSignature) {
			t.Fatalf("unsigned payload gave %v, want ErrInvalidSignature", err)
		}
	})
}
