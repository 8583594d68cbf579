package domain

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const testHash = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"

func TestAPIKeyDecide(t *testing.T) {
	t.Parallel()
	issue := IssueAPIKey{KeyID: "k1", CustomerID: "c1", Name: " ci ", Prefix: "whs_live_abcd1234", Hash: testHash, Scopes: []string{"admin", "read", "read"}, At: t0}
	issued := APIKeyIssued{KeyID: "k1", CustomerID: "c1", Name: "ci", Prefix: "whs_live_abcd1234", Hash: testHash, Scopes: []string{"read", "admin"}, IssuedAt: t0}
	revoked := APIKeyRevoked{KeyID: "k1", CustomerID: "c1", Reason: "leaked", RevokedAt: t0}
	with := func(f func(*IssueAPIKey)) IssueAPIKey { c := issue; f(&c); return c }
	runGWT(t, FoldAPIKey, DecideAPIKey, EvolveAPIKey, []gwt[APIKeyCommand]{
		{name: "issue", when: issue, then: []Event{issued}},
		{name: "issue twice", given: []Event{issued}, when: issue, err: ErrAPIKeyExists},
		{name: "issue without scopes", when: with(func(c *IssueAPIKey) { c.Scopes = nil }), err: ErrValidation},
		{name: "issue unknown scope", when: with(func(c *IssueAPIKey) { c.Scopes = []string{"root"} }), err: ErrValidation},
		{name: "issue without name", when: with(func(c *IssueAPIKey) { c.Name = " " }), err: ErrValidation},
		{name: "issue long name", when: with(func(c *IssueAPIKey) { c.Name = strings.Repeat("x", 101) }), err: ErrValidation},
		{name: "issue bad prefix", when: with(func(c *IssueAPIKey) { c.Prefix = "sk_abcdefgh" }), err: ErrValidation},
		{name: "issue whole key as prefix", when: with(func(c *IssueAPIKey) { c.Prefix = "whs_live_" + strings.Repeat("a", 43) }), err: ErrValidation},
		{name: "issue bad hash", when: with(func(c *IssueAPIKey) { c.Hash = "plaintext" }), err: ErrValidation},
		{name: "issue upper-case hash", when: with(func(c *IssueAPIKey) { c.Hash = strings.ToUpper(testHash) }), err: ErrValidation},
		{name: "revoke", given: []Event{issued}, when: RevokeAPIKey{CustomerID: "c1", Reason: "leaked", At: t0}, then: []Event{revoked}},
		{name: "revoke revoked", given: []Event{issued, revoked}, when: RevokeAPIKey{CustomerID: "c1"}, err: ErrAPIKeyRevoked},
		{name: "revoke unknown", when: RevokeAPIKey{CustomerID: "c1"}, err: ErrAPIKeyNotFound},
		{name: "revoke other customer's key", given: []Event{issued}, when: RevokeAPIKey{CustomerID: "c2"}, err: ErrAPIKeyNotFound},
	})
}

func TestAPIKeyState(t *testing.T) {
	t.Parallel()
	k, err := FoldAPIKey(APIKeyIssued{KeyID: "k1", CustomerID: "c1", Name: "n", Prefix: "whs_live_abcd", Hash: testHash, Scopes: []string{"read"}}, APIKeyRevoked{KeyID: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	if k.ID() != "k1" || k.CustomerID() != "c1" || k.Name() != "n" || k.Prefix() != "whs_live_abcd" || k.Hash() != testHash ||
		!reflect.DeepEqual(k.Scopes(), []string{"read"}) || !k.Revoked() {
		t.Fatalf("unexpected state %+v", k)
	}
	if _, err := FoldAPIKey(CustomerSuspended{}); !errors.Is(err, ErrForeignEvent) {
		t.Fatalf("foreign event: %v", err)
	}
}
