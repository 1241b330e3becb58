package report

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/medslice/medslice/api/v1alpha1"
)

// FuzzReadJSON feeds report files as `kubectl medslice report verify`
// reads them from a carrier or an auditor: anything at all. Reading never
// panics and a refusal says why; a report it reads can be verified,
// written as JSON and CSV and rendered as PDF without panicking, every
// problem names its field, and a report that verifies still verifies once
// written out and read back (what an auditor re-exports is still
// evidence). Seeds, a sealed report and spoilt copies, are in
// testdata/fuzz/FuzzReadJSON.
func FuzzReadJSON(f *testing.F) {
	f.Add([]byte(`{"apiVersion":"medslice.io/v1alpha1","kind":"SLAReport","spec":{"chain":{"algorithm":"SHA-256","head":"00"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys := ring(testSigner(t, 1))
		r, err := ReadJSON(bytes.NewReader(data))
		if err != nil {
			if err.Error() == "" {
				t.Fatal("refused without a reason")
			}
			return
		}
		// What it reads is one JSON object and nothing else.
		var plain v1alpha1.SLAReport
		if err := json.Unmarshal(data, &plain); err != nil {
			t.Fatalf("read a file that is not one JSON object (%v)", err)
		}
		problems := Verify(&r.Spec, keys)
		for _, p := range problems {
			if p.Field == "" || p.Message == "" {
				t.Fatalf("problem without field or message: %+v", p)
			}
		}
		var out bytes.Buffer
		if err := WriteJSON(&out, r); err != nil {
			t.Fatalf("writing a report it read: %v", err)
		}
		if err := WriteCSV(io.Discard, r); err != nil {
			t.Logf("CSV: %v", err) // refusing is allowed, panicking is not
		}
		if len(r.Spec.Rollups) <= 100 && len(r.Spec.Violations) <= 100 {
			_ = WritePDF(io.Discard, r)
		}
		again, err := ReadJSON(&out)
		if err != nil {
			t.Fatalf("reading back what WriteJSON wrote: %v", err)
		}
		if len(problems) == 0 {
			if ps := Verify(&again.Spec, keys); len(ps) != 0 {
				t.Fatalf("a report that verifies does not once written and read back: %v", ps)
			}
		}
	})
}
