package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"

	"github.com/medslice/medslice/api/v1alpha1"
)

// canonical is the canonical encoding of v (see the package documentation):
// its JSON form, re-encoded with sorted keys, no whitespace and no HTML
// escaping. Numbers keep their literal text.
func canonical(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(raw)
}

// canonicalJSON re-encodes a JSON document canonically.
func canonicalJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil { // maps are written with sorted keys
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// canonicalWithout is canonical(v) with the top-level key omitted.
func canonicalWithout(v any, omitted string) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	delete(m, omitted)
	raw, err = json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(raw)
}

// chainHeader is what the first link of the chain binds the rollups to.
type chainHeader struct {
	Period   v1alpha1.SLAReportPeriod  `json:"period"`
	SliceUID string                    `json:"sliceUID"`
	Targets  v1alpha1.SLAReportTargets `json:"targets"`
}

// chainStart is h_0.
func chainStart(spec *v1alpha1.SLAReportSpec) ([sha256.Size]byte, error) {
	b, err := canonical(chainHeader{Period: spec.Period, SliceUID: spec.Slice.UID, Targets: spec.Targets})
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("encoding the chain header: %w", err)
	}
	return sha256.Sum256(b), nil
}

// chainLink is h_i from h_{i-1} and rollup i (its hash field ignored).
func chainLink(prev [sha256.Size]byte, r v1alpha1.SLAReportRollup) ([sha256.Size]byte, error) {
	b, err := canonicalWithout(r, "hash")
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("encoding a rollup: %w", err)
	}
	h := sha256.New()
	h.Write(prev[:])
	h.Write(b)
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out, nil
}

// signedBytes is what the signature covers: the spec without its signature.
func signedBytes(spec *v1alpha1.SLAReportSpec) ([]byte, error) {
	b, err := canonicalWithout(spec, "signature")
	if err != nil {
		return nil, fmt.Errorf("encoding the report: %w", err)
	}
	return b, nil
}
