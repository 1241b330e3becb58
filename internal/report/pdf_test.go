package report

import (
	"bytes"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPDFRenders: the PDF of a sample report is a PDF, and when poppler's
// pdftoppm is installed (CI installs poppler-utils) its first page renders
// to a non-blank A4 image. The rendered PNG is kept in the test's temp dir
// (and in $REPORT_PDF_OUT when set, to look at).
func TestPDFRenders(t *testing.T) {
	r := sampleReport(t, testSigner(t, 1))
	dir := t.TempDir()
	if out := os.Getenv("REPORT_PDF_OUT"); out != "" {
		dir = out
	}
	pdfPath := filepath.Join(dir, "report.pdf")
	var b bytes.Buffer
	if err := WritePDF(&b, r); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) || b.Len() < 2000 {
		t.Fatalf("not a PDF: %d bytes starting %q", b.Len(), b.Bytes()[:min(8, b.Len())])
	}
	if err := os.WriteFile(pdfPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pdftoppm, err := exec.LookPath("pdftoppm")
	if err != nil {
		t.Skip("pdftoppm not found: install poppler-utils to render the PDF; the PDF was written but not rendered")
	}
	prefix := filepath.Join(dir, "page")
	if out, err := exec.Command(pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdfPath, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	f, err := os.Open(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decoding the rendered page: %v", err)
	}
	bounds := img.Bounds()
	// A4 at 60 dpi is 496 x 702 pixels.
	if bounds.Dx() < 480 || bounds.Dx() > 510 || bounds.Dy() < 690 || bounds.Dy() > 715 {
		t.Errorf("page 1 is %dx%d pixels, want about 496x702 (A4 at 60 dpi)", bounds.Dx(), bounds.Dy())
	}
	var dark, coloured int
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r < 0x8000 && g < 0x8000 && b < 0x8000 {
				dark++
			}
			if max(r, g, b)-min(r, g, b) > 0x4000 {
				coloured++ // the plot's lines and bands: the only colour on the page
			}
		}
	}
	total := bounds.Dx() * bounds.Dy()
	if dark < total/200 {
		t.Errorf("page 1 has %d dark pixels of %d: no text rendered", dark, total)
	}
	if coloured < 200 {
		t.Errorf("page 1 has %d coloured pixels: no RTT plot rendered", coloured)
	}
	t.Logf("page 1: %dx%d, %d dark and %d coloured pixels, in %s", bounds.Dx(), bounds.Dy(), dark, coloured, dir)

	// The text a person reads: the header, the targets table, the plot's
	// title, the violations and the signature (pdftotext ships with
	// pdftoppm in poppler-utils).
	pdftotext, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not found: install poppler-utils to read the PDF's text")
	}
	out, err := exec.Command(pdftotext, "-layout", pdfPath, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	for _, want := range []string{
		"SLA report: or3-prostatectomy",
		"Purpose robotic prostatectomy, OR-3",
		"Profile telesurgery", "Core campus-core",
		"Period 2026-05-04 08:00:00.000 UTC to 2026-05-04 08:02:00.000 UTC",
		"Targets and measured values",
		"RTT p99 (worst interval) 20ms 31.2ms MISSED",
		"Compliance: 96.3636 %",
		"Round-trip time per interval",
		"Violations (2)",
		"Gaps in the evidence (1)",
		"Signature (Ed25519), key id " + r.Spec.Signature.KeyID,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
}
