package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/domain"
	"github.com/webhost-systems/webhost/sync/syncauth"
)

const authKeysDDL = `
CREATE TABLE api_keys (
    key_id      text        PRIMARY KEY,
    customer_id text        NOT NULL,
    key_sha256  text        NOT NULL UNIQUE,
    scopes      text[]      NOT NULL,
    revoked     boolean     NOT NULL DEFAULT false,
    issued_at   timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE TABLE customers (
    customer_id text PRIMARY KEY,
    status      text NOT NULL
);
COMMENT ON TABLE api_keys IS 'Authentication: SHA-256 of every API key. Not for analysts; read.api_keys has no hashes.';
`

// AuthKeys is the projection of the tables authentication uses, in schema
// `auth`: API keys by SHA-256 (from APIKeyIssued and APIKeyRevoked) and
// each customer's status, so that keys of closed accounts stop working.
// Its name, NameAuthKeys, is stable: renaming it means a replay.
func AuthKeys() *Projection {
	return &Projection{
		Name:    NameAuthKeys,
		Schema:  "auth",
		Version: 1,
		Tables:  []string{"api_keys", "customers"},
		DDL:     authKeysDDL,
		Decode:  true,
		Handles: func(t string) bool {
			switch t {
			case domain.TypeAPIKeyIssued, domain.TypeAPIKeyRevoked, domain.TypeCustomerSignedUp,
				domain.TypeCustomerSuspended, domain.TypeCustomerReinstated, domain.TypeCustomerAccountClosed:
				return true
			}
			return false
		},
		Apply: applyAuthKeys,
	}
}

func applyAuthKeys(b *Batch, env Envelope) error {
	switch e := env.Event.(type) {
	case domain.APIKeyIssued:
		b.Queue(`INSERT INTO api_keys (key_id, customer_id, key_sha256, scopes, issued_at) VALUES ($1, $2, lower($3), $4, $5)`,
			e.KeyID, e.CustomerID, e.Hash, nonNil(e.Scopes), e.IssuedAt)
	case domain.APIKeyRevoked:
		b.Queue(`UPDATE api_keys SET revoked = true, revoked_at = $2 WHERE key_id = $1`, e.KeyID, e.RevokedAt)
	case domain.CustomerSignedUp:
		b.Queue(`INSERT INTO customers (customer_id, status) VALUES ($1, 'active')`, e.CustomerID)
	case domain.CustomerSuspended:
		b.Queue(`UPDATE customers SET status = 'suspended' WHERE customer_id = $1`, e.CustomerID)
	case domain.CustomerReinstated:
		b.Queue(`UPDATE customers SET status = 'active' WHERE customer_id = $1`, e.CustomerID)
	case domain.CustomerAccountClosed:
		b.Queue(`UPDATE customers SET status = 'closed' WHERE customer_id = $1`, e.CustomerID)
	default:
		return fmt.Errorf("auth keys: no handler for %T", env.Event)
	}
	return nil
}

// KeyAuthenticator authenticates API keys against auth.api_keys. It
// implements syncauth.Authenticator, so the sync server can use the
// control plane's keys when it shares the database.
type KeyAuthenticator struct {
	pool *pgxpool.Pool
}

var _ syncauth.Authenticator = (*KeyAuthenticator)(nil)

// NewKeyAuthenticator returns an authenticator on pool; pool must not be
// nil.
func NewKeyAuthenticator(pool *pgxpool.Pool) (*KeyAuthenticator, error) {
	if pool == nil {
		return nil, errors.New("projections: NewKeyAuthenticator: nil pool")
	}
	return &KeyAuthenticator{pool: pool}, nil
}

// Authenticate returns the key's principal. It returns an error matching
// syncauth.ErrUnauthenticated for a malformed, unknown or revoked key, or a
// key whose account is closed; other errors are database failures.
func (a *KeyAuthenticator) Authenticate(ctx context.Context, token string) (syncauth.Principal, error) {
	if !strings.HasPrefix(token, syncauth.KeyPrefix) || len(token) > 200 {
		return syncauth.Principal{}, syncauth.ErrUnauthenticated
	}
	var p syncauth.Principal
	err := a.pool.QueryRow(ctx, `SELECT k.key_id, k.customer_id, k.scopes FROM auth.api_keys k
		LEFT JOIN auth.customers c ON c.customer_id = k.customer_id
		WHERE k.key_sha256 = $1 AND NOT k.revoked AND coalesce(c.status, 'active') <> 'closed'`,
		syncauth.HashKey(token)).Scan(&p.KeyID, &p.CustomerID, &p.Scopes)
	if errors.Is(err, pgx.ErrNoRows) {
		return syncauth.Principal{}, syncauth.ErrUnauthenticated
	}
	if err != nil {
		return syncauth.Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	return p, nil
}
