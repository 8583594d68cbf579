package secrets

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the `secrets` schema.
var Migrations = migrate.Component{Name: "secrets", FS: mustSub(migrationFiles, "migrations")}

func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}

// Store keeps secrets in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
	cfg  Config
	keys *keyring
}

// New returns a store on pool. The schema must exist (Migrations). It
// returns ErrInvalidKey for a bad master key.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	if pool == nil {
		return nil, errors.New("secrets: nil pool")
	}
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	keys, err := newKeyring(cfg.MasterKey, cfg.Rand, cfg.PreviousKeys...)
	if err != nil {
		return nil, err
	}
	var exists bool
	if err := pool.QueryRow(ctx, `SELECT to_regclass('secrets.secrets') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("secrets: check schema: %w", err)
	}
	if !exists {
		return nil, errors.New("secrets: table secrets.secrets missing: run `webhost migrate`")
	}
	return &Store{pool: pool, cfg: cfg, keys: keys}, nil
}

// Put seals and stores a secret, creating the owner's data key on first use.
// Put is idempotent by ID: storing an ID again with the same owner and kind
// keeps the first value and returns nil. It returns ErrConflict for an ID
// used with another owner or kind, ErrErased when the owner was shredded,
// ErrInvalid for a malformed secret.
func (s *Store) Put(ctx context.Context, sec Secret) error {
	if err := sec.validate(); err != nil {
		return err
	}
	wrappedNew, err := s.keys.newDataKey(sec.Owner)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		now := s.cfg.Now().UTC()
		if _, err := tx.Exec(ctx, `INSERT INTO secrets.data_keys (owner, kek_id, wrapped_key, created_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (owner) DO NOTHING`, sec.Owner, s.keys.kekID, wrappedNew, now); err != nil {
			return fmt.Errorf("secrets: put %s: data key: %w", sec.ID, err)
		}
		// FOR SHARE serialises with Shred's update of the same row.
		var kekID *string
		var wrapped []byte
		if err := tx.QueryRow(ctx, `SELECT kek_id, wrapped_key FROM secrets.data_keys WHERE owner = $1 FOR SHARE`,
			sec.Owner).Scan(&kekID, &wrapped); err != nil {
			return fmt.Errorf("secrets: put %s: read data key: %w", sec.ID, err)
		}
		if wrapped == nil || kekID == nil {
			return fmt.Errorf("put %s: owner %q: %w", sec.ID, sec.Owner, ErrErased)
		}
		dataKey, err := s.keys.unwrap(sec.Owner, *kekID, wrapped)
		if err != nil {
			return fmt.Errorf("put %s: %w", sec.ID, err)
		}
		sealed, err := s.keys.sealSecret(dataKey, sec)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO secrets.secrets (id, owner, kind, sealed, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`, sec.ID, sec.Owner, sec.Kind, sealed, now)
		if err != nil {
			return fmt.Errorf("secrets: put %s: %w", sec.ID, err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var owner, kind string
		if err := tx.QueryRow(ctx, `SELECT owner, kind FROM secrets.secrets WHERE id = $1`, sec.ID).Scan(&owner, &kind); err != nil {
			return fmt.Errorf("secrets: put %s: read existing: %w", sec.ID, err)
		}
		if owner != sec.Owner || kind != sec.Kind {
			return fmt.Errorf("put %s: %w", sec.ID, ErrConflict)
		}
		return nil
	})
}

// Get returns a secret. It returns ErrNotFound for an unknown ID, ErrErased
// for a shredded owner, ErrWrongMasterKey or ErrCorrupt when decryption
// fails.
func (s *Store) Get(ctx context.Context, id string) (Secret, error) {
	var owner, kind string
	var sealed, wrapped []byte
	var kekID *string
	err := s.pool.QueryRow(ctx, `SELECT s.owner, s.kind, s.sealed, k.kek_id, k.wrapped_key
		FROM secrets.secrets s JOIN secrets.data_keys k USING (owner) WHERE s.id = $1`, id).
		Scan(&owner, &kind, &sealed, &kekID, &wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return Secret{}, fmt.Errorf("get %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return Secret{}, fmt.Errorf("secrets: get %q: %w", id, err)
	}
	if sealed == nil || wrapped == nil || kekID == nil {
		return Secret{}, fmt.Errorf("get %q: %w", id, ErrErased)
	}
	dataKey, err := s.keys.unwrap(owner, *kekID, wrapped)
	if err != nil {
		return Secret{}, fmt.Errorf("get %q: %w", id, err)
	}
	plain, err := s.keys.openSecret(dataKey, id, owner, kind, sealed)
	if err != nil {
		return Secret{}, err
	}
	return Secret{ID: id, Owner: owner, Kind: kind, Plaintext: plain}, nil
}

// Shred erases every secret of owner for good by deleting its data key and
// ciphertexts, and blocks new secrets for it. It is idempotent; shredding an
// owner that never had a secret leaves a tombstone.
func (s *Store) Shred(ctx context.Context, owner string) error {
	if err := (Secret{ID: "-", Owner: owner, Kind: "-"}).validate(); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		now := s.cfg.Now().UTC()
		if _, err := tx.Exec(ctx, `INSERT INTO secrets.data_keys (owner, kek_id, wrapped_key, created_at, shredded_at)
			VALUES ($1, NULL, NULL, $2, $2)
			ON CONFLICT (owner) DO UPDATE SET kek_id = NULL, wrapped_key = NULL,
				shredded_at = coalesce(secrets.data_keys.shredded_at, EXCLUDED.shredded_at)`, owner, now); err != nil {
			return fmt.Errorf("secrets: shred %q: data key: %w", owner, err)
		}
		if _, err := tx.Exec(ctx, `UPDATE secrets.secrets SET sealed = NULL WHERE owner = $1 AND sealed IS NOT NULL`, owner); err != nil {
			return fmt.Errorf("secrets: shred %q: %w", owner, err)
		}
		return nil
	})
}

// Shredded reports whether owner was shredded.
func (s *Store) Shredded(ctx context.Context, owner string) (bool, error) {
	var shredded bool
	err := s.pool.QueryRow(ctx, `SELECT shredded_at IS NOT NULL FROM secrets.data_keys WHERE owner = $1`, owner).Scan(&shredded)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("secrets: shredded %q: %w", owner, err)
	}
	return shredded, nil
}

// Rotate re-wraps every data key sealed with one of Config.PreviousKeys with
// the current master key, in batches, and returns how many it re-wrapped.
// Secrets themselves are not re-encrypted (their data keys do not change).
// It returns ErrWrongMasterKey if a data key was wrapped by a key that is
// neither current nor previous. Safe to run concurrently and repeatedly.
func (s *Store) Rotate(ctx context.Context) (int, error) {
	total := 0
	for {
		n := 0
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			rows, err := tx.Query(ctx, `SELECT owner, kek_id, wrapped_key FROM secrets.data_keys
				WHERE wrapped_key IS NOT NULL AND kek_id <> $1 LIMIT 200 FOR UPDATE SKIP LOCKED`, s.keys.kekID)
			if err != nil {
				return err
			}
			type row struct {
				owner, kekID string
				wrapped      []byte
			}
			var batch []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.owner, &r.kekID, &r.wrapped); err != nil {
					rows.Close()
					return err
				}
				batch = append(batch, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range batch {
				rewrapped, err := s.keys.rewrap(r.owner, r.kekID, r.wrapped)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE secrets.data_keys SET kek_id = $2, wrapped_key = $3 WHERE owner = $1`,
					r.owner, s.keys.kekID, rewrapped); err != nil {
					return err
				}
			}
			n = len(batch)
			return nil
		})
		if err != nil {
			return total, fmt.Errorf("secrets: rotate: %w", err)
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}
