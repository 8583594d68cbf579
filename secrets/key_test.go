package secrets

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"
)

func TestParseKey(t *testing.T) {
	t.Parallel()
	key := bytes.Repeat([]byte{0xAB}, KeySize)
	for _, enc := range []string{
		base64.StdEncoding.EncodeToString(key),
		base64.RawStdEncoding.EncodeToString(key),
		base64.URLEncoding.EncodeToString(key),
		hex.EncodeToString(key),
		"  " + hex.EncodeToString(key) + "\n",
	} {
		got, err := ParseKey(enc)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("ParseKey(%q) = %x, %v", enc, got, err)
		}
	}
	for _, bad := range []string{"", "short", base64.StdEncoding.EncodeToString(key[:16]), hex.EncodeToString(key[:31])} {
		if _, err := ParseKey(bad); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseKey(%q) = %v", bad, err)
		}
	}
	dev, err := ParseKey(DevelopmentKey)
	if err != nil || string(dev) != "webhost-development-key-not-safe" || !IsDevelopmentKey(dev) || IsDevelopmentKey(key) {
		t.Fatalf("development key: %q %v", dev, err)
	}
}

func TestCiphertextBinding(t *testing.T) {
	t.Parallel()
	k, err := newKeyring(bytes.Repeat([]byte{1}, KeySize), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	wrapped, err := k.newDataKey("c1")
	if err != nil {
		t.Fatal(err)
	}
	// A data key is bound to its owner.
	if _, err := k.unwrap("c2", k.kekID, wrapped); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("unwrap for other owner: %v", err)
	}
	dk, err := k.unwrap("c1", k.kekID, wrapped)
	if err != nil {
		t.Fatal(err)
	}
	s := Secret{ID: "s1", Owner: "c1", Kind: KindEmail, Plaintext: []byte("alice@example.com")}
	sealed, err := k.sealSecret(dk, s)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, s.Plaintext) {
		t.Fatal("plaintext visible in ciphertext")
	}
	// A ciphertext is bound to its ID, owner and kind, and authenticated.
	for name, f := range map[string]func() error{
		"other id":   func() error { _, err := k.openSecret(dk, "s2", "c1", KindEmail, sealed); return err },
		"other kind": func() error { _, err := k.openSecret(dk, "s1", "c1", KindName, sealed); return err },
		"tampered": func() error {
			bad := bytes.Clone(sealed)
			bad[len(bad)-1] ^= 1
			_, err := k.openSecret(dk, "s1", "c1", KindEmail, bad)
			return err
		},
		"truncated": func() error { _, err := k.openSecret(dk, "s1", "c1", KindEmail, sealed[:5]); return err },
	} {
		if err := f(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got, err := k.openSecret(dk, "s1", "c1", KindEmail, sealed); err != nil || !bytes.Equal(got, s.Plaintext) {
		t.Fatalf("open: %q %v", got, err)
	}
}
