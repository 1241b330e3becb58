// Package report builds, seals, verifies and exports SLAReports: the signed
// evidence of what a MedicalSlice delivered over a period (DESIGN §7).
//
// # Who calls what
//
// The operator, at the end of a slice window (and daily for open-ended
// slices):
//
//	signer, ring, err := report.LoadOrCreateKey(ctx, c, operatorNS, "medslice-report-key")
//	spec, err := report.Build(slice, rollups, violations, targets, report.Period{Start: s, End: e}, gaps)
//	err = report.Seal(spec, signer)
//	c.Create(ctx, &v1alpha1.SLAReport{ObjectMeta: ..., Spec: *spec})
//
// RotateKey replaces the signing key and keeps every public key ever used in
// the Secret, so reports signed before a rotation still verify.
//
// The kubectl plugin and the console: ReadJSON (a file written by WriteJSON
// or `kubectl get -o json`), Verify with a KeyRing (KeyRingFromSecret, or
// ParseKeyRing for the public-keys JSON handed to a carrier), and WriteJSON,
// WriteCSV and WritePDF for the exports.
//
// # Canonical encoding
//
// The chain and the signature cover bytes, so that a carrier can verify a
// report without this code. canonical(v) is the JSON form of v as it appears
// in the SLAReport's .spec (field names as in the CRD, optional fields that
// are empty left out), written with
//
//   - object keys sorted by their UTF-8 bytes, at every level;
//   - no whitespace outside strings;
//   - integers as plain decimal (every number in a spec is an integer:
//     ratios, durations and times are strings);
//   - strings with only '"', '\\' and control characters escaped (as \n,
//     \r, \t, \b, \f or \u00XX with lower-case hex; U+2028 and U+2029 as
//     \u2028 and \u2029), everything else as UTF-8: the output of Go's
//     encoding/json with HTML escaping off;
//   - times in RFC 3339 UTC with exactly six fractional digits
//     ("2026-05-04T08:00:00.000000Z"), as the API server stores them;
//     durations as Go writes them ("12.345ms", "1m4s"), rounded to the
//     microsecond; ratios as described on the fields.
//
// For a document with integer numbers only this is RFC 8785 (JCS), so a JCS
// library gives the same bytes.
//
// # Hash chain
//
//	h_0 = SHA-256(canonical({"period": spec.period, "sliceUID": spec.slice.uid, "targets": spec.targets}))
//	h_i = SHA-256(h_{i-1} || canonical(spec.rollups[i-1] without "hash"))   (h_{i-1} as 32 raw bytes)
//	spec.rollups[i-1].hash = hex(h_i), spec.chain.head = hex(h_n)
//
// A verifier recomputes each link from the stored previous one, so a change
// to one rollup is pinned to that rollup.
//
// # Signature
//
// spec.signature.value = base64(Ed25519-Sign(key, canonical(spec without
// "signature"))), standard base64 with padding. spec.signature.keyID is the
// first 16 hex digits of SHA-256 of the 32-byte public key.
package report
