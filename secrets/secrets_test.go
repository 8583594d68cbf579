package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/webhost-systems/webhost/internal/migrate"
	"github.com/webhost-systems/webhost/internal/pgtest"
	"github.com/webhost-systems/webhost/secrets"
)

type store interface {
	Put(ctx context.Context, s secrets.Secret) error
	Get(ctx context.Context, id string) (secrets.Secret, error)
	Shred(ctx context.Context, owner string) error
	Shredded(ctx context.Context, owner string) (bool, error)
}

var testKey = bytes.Repeat([]byte{7}, 32)

func newPostgres(t *testing.T, key []byte) (*secrets.Store, func(key []byte) *secrets.Store, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.MustPool(t)
	ctx := context.Background()
	if err := migrate.Up(ctx, pool, nil, secrets.Migrations); err != nil {
		t.Fatal(err)
	}
	open := func(key []byte) *secrets.Store {
		s, err := secrets.New(ctx, pool, secrets.Config{MasterKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	return open(key), open, pool
}

func implementations(t *testing.T) map[string]func(t *testing.T) store {
	return map[string]func(t *testing.T) store{
		"memory": func(t *testing.T) store {
			m, err := secrets.NewMemory(secrets.Config{MasterKey: testKey})
			if err != nil {
				t.Fatal(err)
			}
			return m
		},
		"postgres": func(t *testing.T) store {
			s, _, _ := newPostgres(t, testKey)
			return s
		},
	}
}

func TestStore(t *testing.T) {
	for name, newStore := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := context.Background()
			alice := secrets.Secret{ID: "s1", Owner: "c1", Kind: secrets.KindEmail, Plaintext: []byte("alice@example.com")}
			if err := s.Put(ctx, alice); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, "s1")
			if err != nil || !bytes.Equal(got.Plaintext, alice.Plaintext) || got.Owner != "c1" || got.Kind != secrets.KindEmail || got.ID != "s1" {
				t.Fatalf("Get = %+v, %v", got, err)
			}
			// Idempotent by ID: the first value stays.
			if err := s.Put(ctx, secrets.Secret{ID: "s1", Owner: "c1", Kind: secrets.KindEmail, Plaintext: []byte("other")}); err != nil {
				t.Fatal(err)
			}
			if got, _ := s.Get(ctx, "s1"); string(got.Plaintext) != "alice@example.com" {
				t.Fatalf("re-put changed the value to %q", got.Plaintext)
			}
			if err := s.Put(ctx, secrets.Secret{ID: "s1", Owner: "c2", Kind: secrets.KindEmail}); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("other owner: %v", err)
			}
			if err := s.Put(ctx, secrets.Secret{ID: "s1", Owner: "c1", Kind: secrets.KindName}); !errors.Is(err, secrets.ErrConflict) {
				t.Fatalf("other kind: %v", err)
			}
			if _, err := s.Get(ctx, "nope"); !errors.Is(err, secrets.ErrNotFound) {
				t.Fatalf("missing: %v", err)
			}
			if err := s.Put(ctx, secrets.Secret{ID: "", Owner: "c1", Kind: "k"}); !errors.Is(err, secrets.ErrInvalid) {
				t.Fatalf("no id: %v", err)
			}
			// Empty plaintext is a value.
			if err := s.Put(ctx, secrets.Secret{ID: "empty", Owner: "c1", Kind: "k"}); err != nil {
				t.Fatal(err)
			}
			if got, err := s.Get(ctx, "empty"); err != nil || len(got.Plaintext) != 0 {
				t.Fatalf("empty: %+v %v", got, err)
			}
			bob := secrets.Secret{ID: "s2", Owner: "c2", Kind: secrets.KindName, Plaintext: []byte("Bob")}
			if err := s.Put(ctx, bob); err != nil {
				t.Fatal(err)
			}

			// Shredding c1 erases its secrets only.
			if shredded, _ := s.Shredded(ctx, "c1"); shredded {
				t.Fatal("shredded before Shred")
			}
			if err := s.Shred(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
			if err := s.Shred(ctx, "c1"); err != nil {
				t.Fatalf("second shred: %v", err)
			}
			if shredded, _ := s.Shredded(ctx, "c1"); !shredded {
				t.Fatal("not shredded")
			}
			for _, id := range []string{"s1", "empty"} {
				if _, err := s.Get(ctx, id); !errors.Is(err, secrets.ErrErased) {
					t.Fatalf("Get(%s) after shred: %v", id, err)
				}
			}
			if err := s.Put(ctx, secrets.Secret{ID: "s3", Owner: "c1", Kind: "k", Plaintext: []byte("x")}); !errors.Is(err, secrets.ErrErased) {
				t.Fatalf("put after shred: %v", err)
			}
			if got, err := s.Get(ctx, "s2"); err != nil || string(got.Plaintext) != "Bob" {
				t.Fatalf("other owner after shred: %+v %v", got, err)
			}
			// Shredding an owner that never had secrets blocks it too.
			if err := s.Shred(ctx, "c9"); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, secrets.Secret{ID: "s9", Owner: "c9", Kind: "k"}); !errors.Is(err, secrets.ErrErased) {
				t.Fatalf("put after tombstone: %v", err)
			}
		})
	}
}

func TestStoreConcurrentPutAndShred(t *testing.T) {
	for name, newStore := range implementations(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newStore(t)
			ctx := context.Background()
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for i := 0; i < 20; i++ {
				wg.Add(2)
				go func() {
					defer wg.Done()
					err := s.Put(ctx, secrets.Secret{ID: fmt.Sprint("p", i), Owner: "c1", Kind: "k", Plaintext: []byte("v")})
					if err != nil && !errors.Is(err, secrets.ErrErased) {
						errs <- err
					}
				}()
				go func() {
					defer wg.Done()
					if i == 10 {
						if err := s.Shred(ctx, "c1"); err != nil {
							errs <- err
						}
						return
					}
					err := s.Put(ctx, secrets.Secret{ID: fmt.Sprint("q", i), Owner: "c1", Kind: "k", Plaintext: []byte("v")})
					if err != nil && !errors.Is(err, secrets.ErrErased) {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			// Whatever was stored before or after the shred, nothing is readable.
			for i := 0; i < 20; i++ {
				for _, p := range []string{"p", "q"} {
					if _, err := s.Get(ctx, fmt.Sprint(p, i)); !errors.Is(err, secrets.ErrErased) && !errors.Is(err, secrets.ErrNotFound) {
						t.Errorf("%s%d readable after shred: %v", p, i, err)
					}
				}
			}
		})
	}
}

func TestPostgresAtRest(t *testing.T) {
	t.Parallel()
	s, open, _ := newPostgres(t, testKey)
	ctx := context.Background()
	plain := "very-secret-database-password"
	if err := s.Put(ctx, secrets.Secret{ID: "db", Owner: secrets.PlatformOwner, Kind: "password", Plaintext: []byte(plain)}); err != nil {
		t.Fatal(err)
	}
	// Another master key cannot read it, and says so.
	other := open(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Get(ctx, "db"); !errors.Is(err, secrets.ErrWrongMasterKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if got, err := open(testKey).Get(ctx, "db"); err != nil || string(got.Plaintext) != plain {
		t.Fatalf("reopened: %v", err)
	}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	if _, err := secrets.NewMemory(secrets.Config{MasterKey: []byte("short")}); !errors.Is(err, secrets.ErrInvalidKey) {
		t.Fatalf("short key: %v", err)
	}
	if _, err := secrets.New(context.Background(), nil, secrets.Config{MasterKey: testKey}); err == nil {
		t.Fatal("nil pool accepted")
	}
	pool := pgtest.MustPool(t)
	if _, err := secrets.New(context.Background(), pool, secrets.Config{MasterKey: testKey}); err == nil {
		t.Fatal("store without schema accepted")
	}
}

func TestPostgresRotate(t *testing.T) {
	t.Parallel()
	oldKey, newKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	old, _, pool := newPostgres(t, oldKey)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if err := old.Put(ctx, secrets.Secret{ID: fmt.Sprint("s", i), Owner: fmt.Sprint("c", i), Kind: "k", Plaintext: []byte(fmt.Sprint("v", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := old.Shred(ctx, "c4"); err != nil {
		t.Fatal(err)
	}
	rotated, err := secrets.New(ctx, pool, secrets.Config{MasterKey: newKey, PreviousKeys: [][]byte{oldKey}})
	if err != nil {
		t.Fatal(err)
	}
	// Readable through the previous key before rotation.
	if got, err := rotated.Get(ctx, "s0"); err != nil || string(got.Plaintext) != "v0" {
		t.Fatalf("before rotation: %v", err)
	}
	n, err := rotated.Rotate(ctx)
	if err != nil || n != 4 {
		t.Fatalf("Rotate = %d, %v; want 4 (one owner shredded)", n, err)
	}
	if n, err := rotated.Rotate(ctx); err != nil || n != 0 {
		t.Fatalf("second Rotate = %d, %v", n, err)
	}
	// Only the new key is needed now.
	fresh, err := secrets.New(ctx, pool, secrets.Config{MasterKey: newKey})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if got, err := fresh.Get(ctx, fmt.Sprint("s", i)); err != nil || string(got.Plaintext) != fmt.Sprint("v", i) {
			t.Fatalf("s%d after rotation: %v", i, err)
		}
	}
	if _, err := fresh.Get(ctx, "s4"); !errors.Is(err, secrets.ErrErased) {
		t.Fatalf("shredded after rotation: %v", err)
	}
	if _, err := old.Get(ctx, "s0"); !errors.Is(err, secrets.ErrWrongMasterKey) {
		t.Fatalf("old key after rotation: %v", err)
	}
	if _, err := secrets.New(ctx, pool, secrets.Config{MasterKey: newKey, PreviousKeys: [][]byte{{1}}}); !errors.Is(err, secrets.ErrInvalidKey) {
		t.Fatalf("short previous key: %v", err)
	}
}
