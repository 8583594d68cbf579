// Package sim holds in-memory HTTP fakes of the Hetzner Cloud API, the Fly.io
// Machines API and GraphQL operations, and the Cloudflare DNS API, faithful
// enough that hcloud-go, fly-go (flaps) and cloudflare-go work against them
// unchanged: same paths, JSON shapes (the SDKs' own schema types), status
// codes and error bodies. One Sim serves all three under path prefixes:
//
//	/hetzner/v1/...            Hetzner Cloud API (hcloud.WithEndpoint(base+"/hetzner/v1"))
//	/fly/v1/...                Fly Machines API (flaps, base URL base+"/fly")
//	/fly/graphql               Fly GraphQL (fly.ClientOptions{BaseURL: base+"/fly"})
//	/cloudflare/client/v4/...  Cloudflare API (cloudflare.BaseURL(base+"/cloudflare/client/v4"))
//
// and a control API for tests and `webhost sim`:
//
//	GET    /_sim/state    everything the fakes hold (secret values excluded)
//	DELETE /_sim/state    reset state and faults
//	GET    /_sim/faults   the fault rules and their hit counts
//	POST   /_sim/faults   add rules: a FaultSet as JSON
//	DELETE /_sim/faults   remove every rule
//	POST   /_sim/health   flip health: {"kind":"server"|"machine","id":"...","healthy":false}
//
// The same controls exist as Go methods (AddFaults, SetServerHealth, ...)
// for tests in other packages.
package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config configures a Sim.
type Config struct {
	// ActionDelay is how long a Hetzner action stays "running" (default 300ms).
	ActionDelay time.Duration
	// MachineStartDelay is how long a Fly machine takes from "created" to
	// "started" (default 200ms).
	MachineStartDelay time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger logs requests at debug level (default: discard).
	Logger *slog.Logger
}

// ErrInvalidConfig is returned by Validate.
var ErrInvalidConfig = errors.New("sim: invalid config")

func (c *Config) setDefaults() {
	if c.ActionDelay == 0 {
		c.ActionDelay = 300 * time.Millisecond
	}
	if c.MachineStartDelay == 0 {
		c.MachineStartDelay = 200 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.ActionDelay < 0 || c.MachineStartDelay < 0 {
		return fmt.Errorf("%w: negative delay", ErrInvalidConfig)
	}
	return nil
}

// Sim is the set of simulators. It is safe for concurrent use.
type Sim struct {
	cfg Config
	mu  sync.Mutex
	st  *state
	mux *http.ServeMux

	faults []*faultRule
	nextID int
}

// New returns a Sim with empty state.
func New(cfg Config) (*Sim, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, st: newState()}
	s.mux = http.NewServeMux()
	s.routesControl()
	s.routesHetzner()
	s.routesFly()
	s.routesCloudflare()
	return s, nil
}

// Handler serves the simulators and the control API.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// Base URLs of the simulators relative to the server's root URL.
const (
	HetznerPath    = "/hetzner/v1"
	FlyPath        = "/fly"
	CloudflarePath = "/cloudflare/client/v4"
)

// URLs are the base URLs an adapter needs, given the sim's root URL.
type URLs struct {
	Root       string `json:"root"`
	Hetzner    string `json:"hetzner"`     // hcloud endpoint
	Fly        string `json:"fly"`         // flaps base URL and fly-go GraphQL BaseURL
	Cloudflare string `json:"cloudflare"`  // cloudflare-go BaseURL
	FlyGraphQL string `json:"fly_graphql"` // for reference: Fly + "/graphql"
}

// URLsFor returns the URLs of a sim served at root (no trailing slash).
func URLsFor(root string) URLs {
	root = strings.TrimRight(root, "/")
	return URLs{Root: root, Hetzner: root + HetznerPath, Fly: root + FlyPath, Cloudflare: root + CloudflarePath, FlyGraphQL: root + FlyPath + "/graphql"}
}

func (s *Sim) now() time.Time { return s.cfg.Now() }

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	s.cfg.Logger.Debug("sim request", "method", r.Method, "path", r.URL.Path)
	provider, rel := splitProvider(r.URL.Path)
	if provider == "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	rule := s.matchFault(provider, r.Method, rel)
	if rule == nil {
		s.mux.ServeHTTP(w, r)
		return
	}
	if !rule.After {
		if rule.DelayMS > 0 && !sleepCtx(r.Context(), time.Duration(rule.DelayMS)*time.Millisecond) {
			return
		}
		if rule.Status != 0 {
			writeFault(w, provider, rule.Fault)
			return
		}
		s.mux.ServeHTTP(w, r)
		return
	}
	// After: the provider does the work, then the response is late or lost.
	rec := httptest.NewRecorder()
	s.mux.ServeHTTP(rec, r)
	if rule.DelayMS > 0 && !sleepCtx(r.Context(), time.Duration(rule.DelayMS)*time.Millisecond) {
		return
	}
	if rule.Status != 0 {
		writeFault(w, provider, rule.Fault)
		return
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func splitProvider(p string) (provider, rel string) {
	switch {
	case strings.HasPrefix(p, "/hetzner/"):
		return "hetzner", strings.TrimPrefix(p, "/hetzner")
	case strings.HasPrefix(p, "/fly/"):
		return "fly", strings.TrimPrefix(p, "/fly")
	case strings.HasPrefix(p, "/cloudflare/"):
		return "cloudflare", strings.TrimPrefix(p, "/cloudflare")
	}
	return "", p
}

// Fault is one fault-injection rule. A rule matches requests by provider,
// method and a path glob (path.Match syntax, relative to the provider
// prefix, e.g. "/v1/servers", "/v1/apps/*/machines", "/client/v4/zones/*/dns_records").
// Counting matching calls from 1, calls Nth .. Nth+Times-1 are faulted.
// Rules are checked in the order they were added; the first rule that
// faults a call answers it, and a rule only counts the calls that reach it
// (so two rules on one endpoint fault consecutive calls: first rule's, then
// the second's).
type Fault struct {
	ID       int    `json:"id,omitempty"`       // assigned by the sim
	Provider string `json:"provider,omitempty"` // hetzner, fly, cloudflare; empty: any
	Method   string `json:"method,omitempty"`   // empty: any
	Path     string `json:"path,omitempty"`     // glob; empty: any
	Nth      int    `json:"nth,omitempty"`      // first faulted matching call, 1-based (default 1)
	Times    int    `json:"times,omitempty"`    // faulted calls from Nth (default 1; -1: every call)
	// Status is the HTTP status to answer with (e.g. 429, 500, 503). 0 with
	// DelayMS set makes a slow but otherwise normal response.
	Status     int    `json:"status,omitempty"`
	RetryAfter int    `json:"retry_after,omitempty"` // seconds, sent as Retry-After
	DelayMS    int    `json:"delay_ms,omitempty"`    // delay before answering
	After      bool   `json:"after,omitempty"`       // do the real work first, then delay/fail
	Code       string `json:"code,omitempty"`        // provider error code in the body
	Message    string `json:"message,omitempty"`
	Hits       int    `json:"hits"` // matching calls seen so far (read-only)
}

// FaultSet is the body of POST /_sim/faults.
type FaultSet struct {
	Rules []Fault `json:"rules,omitempty"`
	// Unavailable makes Hetzner answer resource_unavailable for server
	// creation with this server type in this location.
	Unavailable []ServerTypeLocation `json:"hetzner_unavailable,omitempty"`
	// NoCapacity makes Fly answer insufficient_capacity for machine
	// launches in these regions.
	NoCapacity []string `json:"fly_no_capacity,omitempty"`
}

// ServerTypeLocation names a Hetzner server type in a location.
type ServerTypeLocation struct {
	ServerType string `json:"server_type"`
	Location   string `json:"location"`
}

// ErrInvalidFault is returned for a rule that cannot match or fire.
var ErrInvalidFault = errors.New("sim: invalid fault")

// Validate checks a fault set.
func (fs FaultSet) Validate() error {
	for i, f := range fs.Rules {
		switch f.Provider {
		case "", "hetzner", "fly", "cloudflare":
		default:
			return fmt.Errorf("%w: rule %d: unknown provider %q", ErrInvalidFault, i, f.Provider)
		}
		if f.Path != "" {
			if _, err := path.Match(f.Path, "/"); err != nil {
				return fmt.Errorf("%w: rule %d: path %q: %v", ErrInvalidFault, i, f.Path, err)
			}
		}
		if f.Nth < 0 || f.Times < -1 || f.DelayMS < 0 || f.RetryAfter < 0 {
			return fmt.Errorf("%w: rule %d: negative count or delay", ErrInvalidFault, i)
		}
		if f.Status != 0 && (f.Status < 400 || f.Status > 599) {
			return fmt.Errorf("%w: rule %d: status %d is not an error", ErrInvalidFault, i, f.Status)
		}
		if f.Status == 0 && f.DelayMS == 0 {
			return fmt.Errorf("%w: rule %d: needs a status or a delay", ErrInvalidFault, i)
		}
		if f.DelayMS > 10*60*1000 {
			return fmt.Errorf("%w: rule %d: delay over 10 minutes", ErrInvalidFault, i)
		}
	}
	for i, u := range fs.Unavailable {
		if u.ServerType == "" || u.Location == "" {
			return fmt.Errorf("%w: hetzner_unavailable %d: server_type and location required", ErrInvalidFault, i)
		}
	}
	return nil
}

// DecodeFaultSet parses and validates a FaultSet from JSON.
func DecodeFaultSet(data []byte) (FaultSet, error) {
	var fs FaultSet
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fs); err != nil {
		return FaultSet{}, fmt.Errorf("%w: %v", ErrInvalidFault, err)
	}
	if dec.More() {
		return FaultSet{}, fmt.Errorf("%w: trailing data", ErrInvalidFault)
	}
	return fs, fs.Validate()
}

type faultRule struct {
	Fault
	calls int
}

// AddFaults installs fault rules and returns their IDs.
func (s *Sim) AddFaults(fs FaultSet) ([]int, error) {
	if err := fs.Validate(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]int, 0, len(fs.Rules))
	for _, f := range fs.Rules {
		s.nextID++
		f.ID = s.nextID
		f.Hits = 0
		if f.Nth == 0 {
			f.Nth = 1
		}
		if f.Times == 0 {
			f.Times = 1
		}
		s.faults = append(s.faults, &faultRule{Fault: f})
		ids = append(ids, f.ID)
	}
	for _, u := range fs.Unavailable {
		s.st.unavailable[u] = true
	}
	for _, r := range fs.NoCapacity {
		s.st.noCapacity[r] = true
	}
	return ids, nil
}

// AddFault installs one rule and returns its ID.
func (s *Sim) AddFault(f Fault) (int, error) {
	ids, err := s.AddFaults(FaultSet{Rules: []Fault{f}})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// ClearFaults removes every rule, unavailability and capacity shortage.
func (s *Sim) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.st.unavailable = map[ServerTypeLocation]bool{}
	s.st.noCapacity = map[string]bool{}
}

// Faults returns the installed rules with their hit counts.
func (s *Sim) Faults() []Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Fault, 0, len(s.faults))
	for _, r := range s.faults {
		f := r.Fault
		f.Hits = r.calls
		out = append(out, f)
	}
	return out
}

func (s *Sim) matchFault(provider, method, rel string) *faultRule {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.Requests[provider+" "+method+" "+rel]++
	for _, r := range s.faults {
		if r.Provider != "" && r.Provider != provider {
			continue
		}
		if r.Method != "" && !strings.EqualFold(r.Method, method) {
			continue
		}
		if r.Path != "" {
			if ok, _ := path.Match(r.Path, rel); !ok {
				continue
			}
		}
		r.calls++
		n := r.calls
		if n >= r.Nth && (r.Times < 0 || n < r.Nth+r.Times) {
			cp := *r
			return &cp
		}
	}
	return nil
}

func writeFault(w http.ResponseWriter, provider string, f Fault) {
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	code, msg := f.Code, f.Message
	if msg == "" {
		msg = http.StatusText(f.Status)
	}
	switch provider {
	case "hetzner":
		if code == "" {
			switch {
			case f.Status == 429:
				code = "rate_limit_exceeded"
			case f.Status == 503:
				code = "unavailable"
			case f.Status == 504:
				code = "timeout"
			case f.Status >= 500:
				code = "server_error"
			default:
				code = "invalid_input"
			}
		}
		hetznerError(w, f.Status, code, msg)
	case "fly":
		flyError(w, f.Status, msg, code)
	default:
		n, _ := strconv.Atoi(code)
		if n == 0 {
			n = 10000 + f.Status
		}
		cloudflareError(w, f.Status, n, msg)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	return json.Unmarshal(body, v)
}

func (s *Sim) routesControl() {
	s.mux.HandleFunc("GET /_sim/state", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.State())
	})
	s.mux.HandleFunc("DELETE /_sim/state", func(w http.ResponseWriter, _ *http.Request) {
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("GET /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"rules": s.Faults()})
	})
	s.mux.HandleFunc("DELETE /_sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		w.WriteHeader(http.StatusNoContent)
	})
	s.mux.HandleFunc("POST /_sim/faults", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		fs, err := DecodeFaultSet(body)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		ids, err := s.AddFaults(fs)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]any{"ids": ids})
	})
	s.mux.HandleFunc("POST /_sim/health", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Kind    string `json:"kind"`
			ID      string `json:"id"`
			Healthy bool   `json:"healthy"`
		}
		if err := readJSON(r, &req); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		var err error
		switch req.Kind {
		case "server":
			err = s.SetServerHealth(req.ID, req.Healthy)
		case "machine":
			err = s.SetMachineHealth(req.ID, req.Healthy)
		default:
			err = fmt.Errorf("kind must be server or machine, got %q", req.Kind)
		}
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// Reset drops all state and faults.
func (s *Sim) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = newState()
	s.faults = nil
}
