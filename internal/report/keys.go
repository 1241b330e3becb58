package report

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Keys of the signing Secret.
const (
	// SecretKeySeed holds the current Ed25519 private key as its raw 32-byte seed (RFC 8032).
	SecretKeySeed = "ed25519.key"
	// SecretKeyID holds the current key's id.
	SecretKeyID = "keyid"
	// SecretKeyPublicKeys holds every public key ever used, as the JSON
	// object ParseKeyRing reads: {"<key id>": "<base64 raw public key>"}.
	// It is what a carrier is given to verify reports.
	SecretKeyPublicKeys = "public-keys"
)

// Signer signs reports.
type Signer interface {
	// KeyID names the public key that verifies the signatures.
	KeyID() string
	// Public is the public key.
	Public() ed25519.PublicKey
	// Sign signs message.
	Sign(message []byte) ([]byte, error)
}

// Ed25519Signer is a Signer holding an Ed25519 private key.
type Ed25519Signer struct {
	key ed25519.PrivateKey
	id  string
}

var _ Signer = (*Ed25519Signer)(nil)

// NewEd25519Signer makes a signer from a 32-byte seed.
func NewEd25519Signer(seed []byte) (*Ed25519Signer, error) {
	if len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("report: an Ed25519 seed has %d bytes, not %d", ed25519.SeedSize, len(seed))
	}
	key := ed25519.NewKeyFromSeed(seed)
	return &Ed25519Signer{key: key, id: KeyID(key.Public().(ed25519.PublicKey))}, nil
}

// GenerateEd25519Signer makes a signer with a new key from rnd (crypto/rand when nil).
func GenerateEd25519Signer(rnd io.Reader) (*Ed25519Signer, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := io.ReadFull(rnd, seed); err != nil {
		return nil, fmt.Errorf("report: generating a key: %w", err)
	}
	return NewEd25519Signer(seed)
}

func (s *Ed25519Signer) KeyID() string             { return s.id }
func (s *Ed25519Signer) Public() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }
func (s *Ed25519Signer) Sign(m []byte) ([]byte, error) {
	return ed25519.Sign(s.key, m), nil
}

// Seed is the private seed, for storing in the Secret.
func (s *Ed25519Signer) Seed() []byte { return s.key.Seed() }

// KeyID is the id of a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:])[:16]
}

// KeyRing holds the public keys that verify reports, by key id. Keeping
// the keys of rotated-out signers lets older reports verify.
type KeyRing map[string]ed25519.PublicKey

// Add puts pub in the ring and returns its id.
func (r KeyRing) Add(pub ed25519.PublicKey) string {
	id := KeyID(pub)
	r[id] = slices.Clone(pub)
	return id
}

// IDs lists the key ids, sorted.
func (r KeyRing) IDs() []string {
	ids := make([]string, 0, len(r))
	for id := range r {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// MarshalJSON writes {"<key id>": "<base64 public key>"}.
func (r KeyRing) MarshalJSON() ([]byte, error) {
	m := make(map[string]string, len(r))
	for id, pub := range r {
		m[id] = base64.StdEncoding.EncodeToString(pub)
	}
	return json.Marshal(m)
}

// ParseKeyRing reads the JSON MarshalJSON writes (the Secret's public-keys),
// checking that each id is its key's.
func ParseKeyRing(data []byte) (KeyRing, error) {
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("report: public keys: %w", err)
	}
	r := KeyRing{}
	for id, s := range m {
		pub, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("report: public key %s is not a base64 Ed25519 public key", id)
		}
		if got := r.Add(pub); got != id {
			return nil, fmt.Errorf("report: public key listed as %s has id %s", id, got)
		}
	}
	return r, nil
}

// KeyRingFromSecret reads the public keys of a signing Secret.
func KeyRingFromSecret(s *corev1.Secret) (KeyRing, error) {
	return ParseKeyRing(s.Data[SecretKeyPublicKeys])
}

// signerFromSecret reads the current key and the ring, and checks they agree.
func signerFromSecret(s *corev1.Secret) (*Ed25519Signer, KeyRing, error) {
	signer, err := NewEd25519Signer(s.Data[SecretKeySeed])
	if err != nil {
		return nil, nil, fmt.Errorf("report: Secret %s/%s, key %s: %w", s.Namespace, s.Name, SecretKeySeed, err)
	}
	if id := string(s.Data[SecretKeyID]); id != signer.KeyID() {
		return nil, nil, fmt.Errorf("report: Secret %s/%s: %s says %q but the key's id is %s", s.Namespace, s.Name, SecretKeyID, id, signer.KeyID())
	}
	ring, err := KeyRingFromSecret(s)
	if err != nil {
		return nil, nil, fmt.Errorf("report: Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if _, ok := ring[signer.KeyID()]; !ok {
		return nil, nil, fmt.Errorf("report: Secret %s/%s: %s lacks the current key %s", s.Namespace, s.Name, SecretKeyPublicKeys, signer.KeyID())
	}
	return signer, ring, nil
}

// putKey stores signer as the current key of s and adds it to the ring.
func putKey(s *corev1.Secret, signer *Ed25519Signer, ring KeyRing) error {
	ring.Add(signer.Public())
	pubs, err := json.Marshal(ring)
	if err != nil {
		return err
	}
	if s.Data == nil {
		s.Data = map[string][]byte{}
	}
	s.Data[SecretKeySeed] = signer.Seed()
	s.Data[SecretKeyID] = []byte(signer.KeyID())
	s.Data[SecretKeyPublicKeys] = pubs
	return nil
}

// LoadOrCreateKey returns the signing key held in Secret ns/name and every
// public key it has held, creating the Secret with a new key when absent.
// Two operators racing to create it end with the same key.
func LoadOrCreateKey(ctx context.Context, c client.Client, ns, name string) (*Ed25519Signer, KeyRing, error) {
	var s corev1.Secret
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s)
	if err == nil {
		return signerFromSecret(&s)
	}
	if !apierrors.IsNotFound(err) {
		return nil, nil, fmt.Errorf("report: reading Secret %s/%s: %w", ns, name, err)
	}
	signer, err := GenerateEd25519Signer(nil)
	if err != nil {
		return nil, nil, err
	}
	ring := KeyRing{}
	s = corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"app.kubernetes.io/part-of": "medslice"}},
		Type:       corev1.SecretTypeOpaque,
	}
	if err := putKey(&s, signer, ring); err != nil {
		return nil, nil, err
	}
	if err := c.Create(ctx, &s); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return LoadOrCreateKey(ctx, c, ns, name)
		}
		return nil, nil, fmt.Errorf("report: creating Secret %s/%s: %w", ns, name, err)
	}
	return signer, ring, nil
}

// RotateKey makes a new signing key current in Secret ns/name, keeping
// every earlier public key in the ring so that older reports still verify.
func RotateKey(ctx context.Context, c client.Client, ns, name string) (*Ed25519Signer, KeyRing, error) {
	var signer *Ed25519Signer
	var ring KeyRing
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var s corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &s); err != nil {
			return err
		}
		if _, r, err := signerFromSecret(&s); err != nil {
			return err
		} else {
			ring = r
		}
		var err error
		if signer, err = GenerateEd25519Signer(nil); err != nil {
			return err
		}
		if err := putKey(&s, signer, ring); err != nil {
			return err
		}
		return c.Update(ctx, &s)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("report: rotating the key in Secret %s/%s: %w", ns, name, err)
	}
	return signer, ring, nil
}
