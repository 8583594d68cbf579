package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// KeySize is the size of the master key and of every data key: AES-256.
const KeySize = 32

// DevelopmentKey is the master key used when WEBHOST_SECRET_KEY is unset:
// base64 of the 32 ASCII bytes "webhost-development-key-not-safe". It is
// public, so secrets sealed with it are not protected; cmd/webhost prints a
// warning whenever it is in use. Never use it in production.
const DevelopmentKey = "d2ViaG9zdC1kZXZlbG9wbWVudC1rZXktbm90LXNhZmU="

// ErrInvalidKey is returned by ParseKey and New for a key that is not 32
// bytes of base64 or hex.
var ErrInvalidKey = errors.New("secrets: master key must be 32 bytes, base64 or hex encoded")

// ParseKey decodes a master key given as standard or URL-safe base64 (with
// or without padding) or as 64 hex digits. Surrounding space is ignored.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, ErrInvalidKey
}

// IsDevelopmentKey reports whether key is DevelopmentKey.
func IsDevelopmentKey(key []byte) bool {
	dev, _ := ParseKey(DevelopmentKey)
	return string(key) == string(dev)
}

// keyID fingerprints a master key, so that a wrong key is reported as such
// instead of as corrupt data.
func keyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("webhost-secrets-kek-id\x00"), key...))
	return hex.EncodeToString(sum[:8])
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KeySize {
		return nil, ErrInvalidKey
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal returns nonce || ciphertext.
func seal(aead cipher.AEAD, random io.Reader, plaintext, aad []byte) ([]byte, error) {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := io.ReadFull(random, nonce); err != nil {
		return nil, fmt.Errorf("secrets: nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, plaintext, aad), nil
}

func open(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrCorrupt
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, ErrCorrupt
	}
	return plain, nil
}

func dataKeyAAD(owner string) []byte { return []byte("webhost-secrets/v1/data-key\x00" + owner) }

func secretAAD(id, owner, kind string) []byte {
	return []byte("webhost-secrets/v1/secret\x00" + id + "\x00" + owner + "\x00" + kind)
}

// keyring wraps and unwraps data keys and seals secrets. It wraps with the
// current master key and unwraps with it or with a previous one (key
// rotation).
type keyring struct {
	master   cipher.AEAD
	kekID    string
	previous map[string]cipher.AEAD // by key ID
	random   io.Reader
}

func newKeyring(masterKey []byte, random io.Reader, previousKeys ...[]byte) (*keyring, error) {
	aead, err := newAEAD(masterKey)
	if err != nil {
		return nil, err
	}
	k := &keyring{master: aead, kekID: keyID(masterKey), previous: map[string]cipher.AEAD{}, random: random}
	for i, pk := range previousKeys {
		prev, err := newAEAD(pk)
		if err != nil {
			return nil, fmt.Errorf("previous key %d: %w", i, err)
		}
		if id := keyID(pk); id != k.kekID {
			k.previous[id] = prev
		}
	}
	return k, nil
}

// newDataKey returns a fresh data key wrapped with the master key.
func (k *keyring) newDataKey(owner string) ([]byte, error) {
	dk := make([]byte, KeySize)
	if _, err := io.ReadFull(k.random, dk); err != nil {
		return nil, fmt.Errorf("secrets: data key: %w", err)
	}
	return seal(k.master, k.random, dk, dataKeyAAD(owner))
}

// unwrapRaw returns the data key bytes.
func (k *keyring) unwrapRaw(owner, kekID string, wrapped []byte) ([]byte, error) {
	master := k.master
	if kekID != k.kekID {
		prev, ok := k.previous[kekID]
		if !ok {
			return nil, fmt.Errorf("%w: data key of %q was wrapped by key %s, this is key %s", ErrWrongMasterKey, owner, kekID, k.kekID)
		}
		master = prev
	}
	dk, err := open(master, wrapped, dataKeyAAD(owner))
	if err != nil {
		return nil, fmt.Errorf("data key of %q: %w", owner, err)
	}
	return dk, nil
}

func (k *keyring) unwrap(owner, kekID string, wrapped []byte) (cipher.AEAD, error) {
	dk, err := k.unwrapRaw(owner, kekID, wrapped)
	if err != nil {
		return nil, err
	}
	return newAEAD(dk)
}

// rewrap re-seals a data key wrapped by a previous master key with the
// current one.
func (k *keyring) rewrap(owner, kekID string, wrapped []byte) ([]byte, error) {
	dk, err := k.unwrapRaw(owner, kekID, wrapped)
	if err != nil {
		return nil, err
	}
	return seal(k.master, k.random, dk, dataKeyAAD(owner))
}

func (k *keyring) sealSecret(dataKey cipher.AEAD, s Secret) ([]byte, error) {
	return seal(dataKey, k.random, s.Plaintext, secretAAD(s.ID, s.Owner, s.Kind))
}

func (k *keyring) openSecret(dataKey cipher.AEAD, id, owner, kind string, sealed []byte) ([]byte, error) {
	plain, err := open(dataKey, sealed, secretAAD(id, owner, kind))
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", id, err)
	}
	return plain, nil
}
