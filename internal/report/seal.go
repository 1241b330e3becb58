package report

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/medslice/medslice/api/v1alpha1"
)

// Seal writes the hash chain (every rollup's hash and the head) and the
// signature into spec. Any later change to spec makes Verify fail.
func Seal(spec *v1alpha1.SLAReportSpec, signer Signer) error {
	if signer == nil {
		return errors.New("report: no signer")
	}
	h, err := chainStart(spec)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	for i := range spec.Rollups {
		if h, err = chainLink(h, spec.Rollups[i]); err != nil {
			return fmt.Errorf("report: rollups[%d]: %w", i, err)
		}
		spec.Rollups[i].Hash = hex.EncodeToString(h[:])
	}
	spec.Chain = v1alpha1.SLAReportChain{Algorithm: v1alpha1.ChainAlgorithmSHA256, Head: hex.EncodeToString(h[:])}
	spec.Signature = v1alpha1.SLAReportSignature{Algorithm: v1alpha1.SignatureAlgorithmEd25519, KeyID: signer.KeyID()}
	msg, err := signedBytes(spec)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	sig, err := signer.Sign(msg)
	if err != nil {
		return fmt.Errorf("report: signing with key %s: %w", signer.KeyID(), err)
	}
	spec.Signature.Value = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// Problem is one thing about a report that does not verify.
type Problem struct {
	// Field is the spec path at fault, e.g. "rollups[12]", "measured.rttP99",
	// "signature" or "chain.head".
	Field string
	// Message says what is wrong, for a person.
	Message string
}

func (p Problem) String() string { return p.Field + ": " + p.Message }

// Verify checks a report offline: the hash chain link by link, the chain
// head, the signature with the key ring, and that the summary figures and
// each rollup's own figures are consistent. It returns every problem found,
// none for a report that verifies.
func Verify(spec *v1alpha1.SLAReportSpec, keys KeyRing) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if spec == nil {
		add("spec", "no report")
		return ps
	}
	verifyChain(spec, add)
	verifySignature(spec, keys, add)
	verifyFigures(spec, add)
	return ps
}

func verifyChain(spec *v1alpha1.SLAReportSpec, add func(string, string, ...any)) {
	if spec.Chain.Algorithm != v1alpha1.ChainAlgorithmSHA256 {
		add("chain.algorithm", "is %q, want %q", spec.Chain.Algorithm, v1alpha1.ChainAlgorithmSHA256)
	}
	prev, err := chainStart(spec)
	if err != nil {
		add("chain", "%v", err)
		return
	}
	for i, r := range spec.Rollups {
		field := fmt.Sprintf("rollups[%d]", i)
		want, err := chainLink(prev, r)
		if err != nil {
			add(field, "%v", err)
			return
		}
		if r.Hash != hex.EncodeToString(want[:]) {
			if i == 0 {
				add(field, "breaks the hash chain: its hash does not match its content chained to the report header, so this rollup, its hash, or the header it is bound to (slice.uid, period, targets) was altered")
			} else {
				add(field, "breaks the hash chain: its hash does not match its content chained to rollups[%d].hash, so this rollup or one of those hashes was altered", i-1)
			}
		}
		// Go on from the stored link, so that each altered rollup is named
		// by itself rather than every rollup after it.
		if b, err := hex.DecodeString(r.Hash); err == nil && len(b) == sha256.Size {
			copy(prev[:], b)
		} else {
			prev = want
		}
	}
	want := hex.EncodeToString(prev[:])
	if len(spec.Rollups) > 0 {
		want = spec.Rollups[len(spec.Rollups)-1].Hash
	}
	if spec.Chain.Head != want {
		if len(spec.Rollups) == 0 {
			add("chain.head", "is %q, but the report header (slice.uid, period, targets) hashes to %q", spec.Chain.Head, want)
		} else {
			add("chain.head", "is %q, but the last rollup's hash is %q", spec.Chain.Head, want)
		}
	}
}

func verifySignature(spec *v1alpha1.SLAReportSpec, keys KeyRing, add func(string, string, ...any)) {
	s := spec.Signature
	if s.Algorithm != v1alpha1.SignatureAlgorithmEd25519 {
		add("signature.algorithm", "is %q, want %q", s.Algorithm, v1alpha1.SignatureAlgorithmEd25519)
		return
	}
	pub, ok := keys[s.KeyID]
	if !ok {
		add("signature.keyID", "unknown key id %q: the key ring holds %s; get the public keys of the operator that signed it", s.KeyID, describeIDs(keys))
		return
	}
	sig, err := base64.StdEncoding.DecodeString(s.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		add("signature.value", "is not a standard base64 Ed25519 signature of %d bytes", ed25519.SignatureSize)
		return
	}
	msg, err := signedBytes(spec)
	if err != nil {
		add("signature", "%v", err)
		return
	}
	if !ed25519.Verify(pub, msg, sig) {
		add("signature", "does not verify with key %s: the report was changed after it was sealed", s.KeyID)
	}
}

func describeIDs(keys KeyRing) string {
	ids := keys.IDs()
	if len(ids) == 0 {
		return "no keys"
	}
	return strings.Join(ids, ", ")
}

// verifyFigures checks what the rollups imply: each rollup's own figures
// and the summary. The signature already covers them; these name what is
// inconsistent when a report was built wrongly or altered and re-signed.
func verifyFigures(spec *v1alpha1.SLAReportSpec, add func(string, string, ...any)) {
	pStart, pEnd := spec.Period.Start.Time, spec.Period.End.Time
	if !pEnd.After(pStart) {
		add("period", "end %s is not after start %s", ts(pEnd), ts(pStart))
	}
	if d, err := time.ParseDuration(spec.Interval); err != nil || d <= 0 {
		add("interval", "%q is not a positive duration", spec.Interval)
	}
	if spec.SliceSpec != "" && !json.Valid([]byte(spec.SliceSpec)) {
		add("sliceSpec", "is not valid JSON")
	}
	for i, r := range spec.Rollups {
		f := func(name string) string { return fmt.Sprintf("rollups[%d].%s", i, name) }
		if r.Start.Before(&spec.Period.Start) || !r.Start.Before(&spec.Period.End) {
			add(f("start"), "%s is outside the period", ts(r.Start.Time))
		}
		if r.End.Time.Before(r.Start.Time) {
			add(f("end"), "%s is before the start %s", ts(r.End.Time), ts(r.Start.Time))
		}
		if r.Sent != r.Received+r.Lost {
			add(f("sent"), "%d is not received %d + lost %d", r.Sent, r.Received, r.Lost)
		}
		if r.GoodWindows > r.Windows || r.Windows < 1 {
			add(f("goodWindows"), "%d good of %d windows is impossible", r.GoodWindows, r.Windows)
		}
		if r.Met != (r.GoodWindows == r.Windows) {
			add(f("met"), "is %t with %d good of %d windows", r.Met, r.GoodWindows, r.Windows)
		}
		if want := formatRatio(r.Lost, r.Sent); r.LossRatio != want {
			add(f("lossRatio"), "is %q, lost/sent gives %q", r.LossRatio, want)
		}
		for _, d := range []struct{ name, v string }{{"rttP50", r.RTTP50}, {"rttP99", r.RTTP99}, {"rttMax", r.RTTMax}, {"jitterP99", r.JitterP99}} {
			if _, err := time.ParseDuration(d.v); err != nil {
				add(f(d.name), "%q is not a duration", d.v)
			}
		}
		if parseDuration(r.RTTP99) > parseDuration(r.RTTMax) {
			add(f("rttMax"), "%s is below rttP99 %s", r.RTTMax, r.RTTP99)
		}
	}
	want := measure(spec.Rollups)
	got := spec.Measured
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"rttP50", got.RTTP50, want.RTTP50},
		{"rttP99", got.RTTP99, want.RTTP99},
		{"rttMax", got.RTTMax, want.RTTMax},
		{"jitterP99", got.JitterP99, want.JitterP99},
		{"lossRatio", got.LossRatio, want.LossRatio},
		{"compliance", got.Compliance, want.Compliance},
		{"windows", got.Windows, want.Windows},
		{"goodWindows", got.GoodWindows, want.GoodWindows},
	} {
		if c.got != c.want {
			add("measured."+c.name, "says %v, the rollups give %v", c.got, c.want)
		}
	}
	for i, v := range spec.Violations {
		f := func(name string) string { return fmt.Sprintf("violations[%d].%s", i, name) }
		if v.Windows < 1 {
			add(f("windows"), "a violation has at least one bad window, not %d", v.Windows)
		}
		if v.End != nil && v.End.Time.Before(v.Start.Time) {
			add(f("end"), "%s is before the start %s", ts(v.End.Time), ts(v.Start.Time))
		}
		if !v.Start.Time.Before(pEnd) {
			add(f("start"), "%s is after the period", ts(v.Start.Time))
		}
	}
	for i, g := range spec.Gaps {
		if g.End.Time.Before(g.Start.Time) {
			add(fmt.Sprintf("gaps[%d].end", i), "%s is before the start %s", ts(g.End.Time), ts(g.Start.Time))
		}
	}
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
