// Package notify receives the 5G core's callbacks for slice sessions.
//
// Every core session is created with a notification URI that names the slice
// and device it belongs to and carries an unguessable token:
//
//	{base}/notify/v1/{namespace}/{name}/{sliceUID}/{device}/{token}
//
// The token is an HMAC over the other four segments with a key only the
// operator holds, so a notification is accepted only for the session it was
// issued for. The path is also the correlation key that lets the operator
// adopt a session whose creation it did not get to record (DESIGN §3).
// A PCF appends /notify or /terminate to the URI (TS 29.514 §5.5).
package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"k8s.io/apimachinery/pkg/types"
)

// PathPrefix is where the receiver listens.
const PathPrefix = "/notify/v1/"

// MinKeyLen is the shortest key accepted: the token must be unguessable.
const MinKeyLen = 32

// Ref identifies the session a notification URI was issued for.
type Ref struct {
	Slice  types.NamespacedName
	UID    types.UID
	Device string
}

// Correlation is the key the core emulator and the sweep match sessions by.
func (r Ref) Correlation() string { return string(r.UID) + "/" + r.Device }

// Signer issues and checks notification URIs.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer with key, which must be at least MinKeyLen bytes.
func NewSigner(key []byte) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("notification key has %d bytes, need at least %d", len(key), MinKeyLen)
	}
	return &Signer{key: append([]byte(nil), key...)}, nil
}

func (s *Signer) token(r Ref) string {
	m := hmac.New(sha256.New, s.key)
	// NUL-separated so that no two distinct refs share a MAC input.
	fmt.Fprintf(m, "%s\x00%s\x00%s\x00%s", r.Slice.Namespace, r.Slice.Name, r.UID, r.Device)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// URI returns the notification URI for r under base (the CoreNetwork's
// notificationBaseURL).
func (s *Signer) URI(base string, r Ref) string {
	return strings.TrimRight(base, "/") + PathPrefix + strings.Join([]string{
		url.PathEscape(r.Slice.Namespace), url.PathEscape(r.Slice.Name),
		url.PathEscape(string(r.UID)), url.PathEscape(r.Device), s.token(r),
	}, "/")
}

// Errors returned by Verify.
var (
	ErrMalformed = errors.New("not a medslice notification path")
	ErrBadToken  = errors.New("notification token does not match")
)

// Suffix is what a PCF appends to the notification URI.
type Suffix string

const (
	SuffixNone      Suffix = ""
	SuffixNotify    Suffix = "notify"    // TS 29.514 §5.5.2 Npcf_PolicyAuthorization_Notify
	SuffixTerminate Suffix = "terminate" // TS 29.514 §5.5.3 termination request
)

// Verify parses the path of a received notification (or a URI the core
// reports for a session) and checks its token.
func (s *Signer) Verify(path string) (Ref, Suffix, error) {
	r, suffix, tok, err := parse(path)
	if err != nil {
		return Ref{}, "", err
	}
	if !hmac.Equal([]byte(tok), []byte(s.token(r))) {
		return Ref{}, "", ErrBadToken
	}
	return r, suffix, nil
}

// VerifyURI is Verify for a full URI.
func (s *Signer) VerifyURI(uri string) (Ref, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return Ref{}, ErrMalformed
	}
	r, _, err := s.Verify(u.EscapedPath())
	return r, err
}

func parse(path string) (Ref, Suffix, string, error) {
	i := strings.Index(path, PathPrefix)
	if i < 0 {
		return Ref{}, "", "", ErrMalformed
	}
	segs := strings.Split(path[i+len(PathPrefix):], "/")
	suffix := SuffixNone
	if len(segs) == 6 {
		switch Suffix(segs[5]) {
		case SuffixNotify, SuffixTerminate:
			suffix = Suffix(segs[5])
		default:
			return Ref{}, "", "", ErrMalformed
		}
		segs = segs[:5]
	}
	if len(segs) != 5 {
		return Ref{}, "", "", ErrMalformed
	}
	for i, seg := range segs {
		v, err := url.PathUnescape(seg)
		if err != nil || v == "" || len(v) > 253 {
			return Ref{}, "", "", ErrMalformed
		}
		segs[i] = v
	}
	return Ref{
		Slice:  types.NamespacedName{Namespace: segs[0], Name: segs[1]},
		UID:    types.UID(segs[2]),
		Device: segs[3],
	}, suffix, segs[4], nil
}
