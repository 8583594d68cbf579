package commands

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/secrets"
)

func TestWithLogging(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	signUp := WithLogging[SignUp, SignUpResult]("SignUp", f.h.SignUp, logger)
	m := f.meta()
	if _, err := signUp.Handle(f.ctx, SignUp{Meta: m, Name: "Ada Secret", Email: "ada@example.com", Slug: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := signUp.Handle(f.ctx, SignUp{Meta: f.meta(), Name: "Eve", Email: "ada@example.com", Slug: "eve"}); !errors.Is(err, domain.ErrEmailAlreadyRegistered) {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, "level=DEBUG msg=\"command handled\" command=SignUp command_id="+m.CommandID.String()) ||
		!strings.Contains(out, "level=INFO msg=\"command rejected\"") {
		t.Fatalf("log:\n%s", out)
	}
	if strings.Contains(out, "Ada Secret") || strings.Contains(out, "ada@example.com") || strings.Contains(out, "whs_live_") {
		t.Fatalf("personal data logged:\n%s", out)
	}
}

func TestStoreSecret(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ada := f.signUp("ada@example.com", "acme")
	m := f.meta()
	cmd := StoreSecret{Meta: m, CustomerID: ada.CustomerID, Kind: "database_url", Value: []byte("postgres://u:p@h/db")}
	id, err := f.h.StoreSecret.Handle(f.ctx, cmd)
	if err != nil {
		t.Fatal(err)
	}
	again, err := f.h.StoreSecret.Handle(f.ctx, cmd)
	if err != nil || again != id {
		t.Fatalf("retry: %s %v", again, err)
	}
	if v, err := secrets.GetString(f.ctx, f.secrets, id); err != nil || v != "postgres://u:p@h/db" {
		t.Fatalf("read back: %q %v", v, err)
	}
	if _, err := f.h.CloseAccount.Handle(f.ctx, CloseAccount{Meta: f.meta(), CustomerID: ada.CustomerID}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.secrets.Get(f.ctx, id); !errors.Is(err, secrets.ErrErased) {
		t.Fatalf("after close: %v", err)
	}
	if _, err := f.h.StoreSecret.Handle(f.ctx, StoreSecret{Meta: f.meta(), CustomerID: ada.CustomerID, Kind: "x"}); !errors.Is(err, secrets.ErrErased) {
		t.Fatalf("store after close: %v", err)
	}
	if _, err := f.h.StoreSecret.Handle(f.ctx, StoreSecret{Meta: f.meta(), Kind: "x"}); !errors.Is(err, ErrMissingID) {
		t.Fatalf("no customer: %v", err)
	}
}
