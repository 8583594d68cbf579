package secrets

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// FuzzParseKey feeds WEBHOST_SECRET_KEY values to the key parser: it never
// panics and accepts only 32-byte keys.
func FuzzParseKey(f *testing.F) {
	f.Add(DevelopmentKey)
	f.Add("0000000000000000000000000000000000000000000000000000000000000000")
	f.Add("d2ViaG9zdC1kZXZlbG9wbWVudC1rZXktbm90LXNhZmU")
	f.Add("not a key")
	f.Fuzz(func(t *testing.T, s string) {
		key, err := ParseKey(s)
		if err == nil && len(key) != KeySize {
			t.Fatalf("accepted a %d-byte key", len(key))
		}
	})
}

// FuzzOpenSealed feeds stored ciphertext bytes (as read back from the
// database) to the decryption path: it never panics and never accepts
// bytes that were not sealed for that secret.
func FuzzOpenSealed(f *testing.F) {
	// Deterministic keys and nonces: fuzz workers are separate processes
	// and must agree with the coordinator on what was sealed.
	k, err := newKeyring(bytes.Repeat([]byte{3}, KeySize), rand.NewChaCha8([32]byte{9}))
	if err != nil {
		f.Fatal(err)
	}
	wrapped, err := k.newDataKey("c1")
	if err != nil {
		f.Fatal(err)
	}
	dk, err := k.unwrap("c1", k.kekID, wrapped)
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := k.sealSecret(dk, Secret{ID: "s1", Owner: "c1", Kind: KindEmail, Plaintext: []byte("ada@example.com")})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(wrapped)
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0}, 40))
	f.Fuzz(func(t *testing.T, data []byte) {
		plain, err := k.openSecret(dk, "s1", "c1", KindEmail, data)
		if err == nil && !bytes.Equal(data, sealed) {
			t.Fatalf("forged ciphertext accepted: %q", plain)
		}
		if _, err := k.unwrap("c1", k.kekID, data); err == nil && !bytes.Equal(data, wrapped) {
			t.Fatalf("forged data key accepted: %x vs %x", data, wrapped)
		}
	})
}
