//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/testenv"
)

// The alerts of config/prometheus/rules.yaml, unchanged, evaluated by a
// real Prometheus (the Debian package) that scrapes the stack's operator.

const (
	// promBinary is where the Debian package installs Prometheus (.ci/run
	// installs it in CI).
	promBinary = "/usr/bin/prometheus"
	// scrapeInterval is how often Prometheus scrapes the operator, and
	// evalInterval how often it evaluates the rules. The contract under
	// test is for: plus two scrape intervals; evaluating twice as often as
	// scraping keeps the rule's own delay (at most one evaluation) inside
	// the second scrape interval, with room to spare on a loaded machine.
	scrapeInterval = 2 * time.Second
	evalInterval   = time.Second
	// promStartTimeout bounds Prometheus's start (TSDB, rule files).
	promStartTimeout = 60 * time.Second
	// alertsPoll is how often the test reads the metrics endpoint and
	// Prometheus's alerts while it waits for a change.
	alertsPoll = 100 * time.Millisecond
	// alertTimeout bounds the wait for an alert after the impairment: the
	// slice's SLA window, the rule's for:, and a slow machine.
	alertTimeout = 3 * time.Minute

	alertNamespace = "e2e-alerts"
	alertProfile   = "e2e-alerts"
	// alertRTTTarget is the test profile's RTT and jitter target, and
	// alertDelay the impairment, far above it.
	alertRTTTarget = 250 * time.Millisecond
	alertDelay     = time.Second
	alertSlice     = "alert-surgery"
	alertUE        = "10.47.0.1"
	// The alerts under test and the metric each reads.
	alertNoGo      = "MedSliceNoGoDuringWindow"
	alertViolation = "MedSliceSLAViolation"
)

// An impairment on a GO slice fires the NO-GO and SLA-violation alerts in
// a real Prometheus within each rule's contract: the rule's for: plus two
// scrape intervals after the operator's metric changed.
func TestAlertsFireOnImpairment(t *testing.T) {
	if _, err := os.Stat(promBinary); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing in CI (%v): .ci/run installs the Debian package prometheus", promBinary, err)
		}
		t.Skipf("%s not installed (Debian package prometheus); CI installs it and runs this test", promBinary)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	rulesFile := filepath.Join(root, "config", "prometheus", "rules.yaml")
	holds, err := ruleHolds(rulesFile)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	if err := stack.Client.Create(ctx, nsObject(alertNamespace)); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	// A profile of its own, with targets a busy machine meets without
	// impairment (other tests load the CPUs) and a short verification
	// period; the impairment is far beyond them.
	var base v1alpha1.SliceProfile
	if err := stack.Client.Get(ctx, client.ObjectKey{Name: "surgery-urllc"}, &base); err != nil {
		t.Fatal(err)
	}
	prof := &v1alpha1.SliceProfile{ObjectMeta: metav1.ObjectMeta{Name: alertProfile}, Spec: *base.Spec.DeepCopy()}
	prof.Spec.SLA.RTTP99 = &metav1.Duration{Duration: alertRTTTarget}
	prof.Spec.SLA.JitterP99 = &metav1.Duration{Duration: alertRTTTarget}
	prof.Spec.SLA.LossRatio = "0.05"
	prof.Spec.SLA.VerificationPeriod = &metav1.Duration{Duration: 10 * time.Second}
	if err := stack.Client.Create(ctx, prof); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := stack.Client.Delete(context.Background(), prof); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting profile %s: %v", prof.Name, err)
		}
	})
	s := newSlice(alertSlice, "emulator-nef", alertProfile, 0, 1)
	s.Namespace = alertNamespace
	s.Spec.Purpose = "end-to-end alert test"
	s.Spec.Devices[0].IPv4 = alertUE
	if err := stack.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		emulatorPost(t, "/admin/v1/impairments", `{"target": "`+alertUE+`"}`)
		if err := stack.Client.Delete(context.Background(), s); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting %s/%s: %v", s.Namespace, s.Name, err)
		}
	})

	// Prometheus starts now, so that it has the probe counters' rate by
	// the time the slice is GO.
	prom := startPrometheus(t, rulesFile, strings.TrimPrefix(strings.TrimSuffix(stack.MetricsURL, "/metrics"), "http://"))

	eventually(t, goTimeout, alertSlice+" GO", func() (bool, string) {
		var cur v1alpha1.MedicalSlice
		if err := stack.Client.Get(ctx, client.ObjectKeyFromObject(s), &cur); err != nil {
			return false, err.Error()
		}
		return isTrue(&cur, v1alpha1.ConditionReady), cond(&cur, v1alpha1.ConditionReady)
	})
	// The first verification period is NO-GO by design and may have set
	// the NO-GO alert off: start from GO in the metrics and no alert.
	eventually(t, 30*time.Second, "GO in the metrics and no NO-GO alert", func() (bool, string) {
		m, err := sliceMetrics(stack.MetricsURL)
		if err != nil {
			return false, err.Error()
		}
		if !m.present || m.goValue != 1 {
			return false, fmt.Sprintf("medslice_slice_go = %v (present %v)", m.goValue, m.present)
		}
		alerts, err := prom.alerts()
		if err != nil {
			return false, err.Error()
		}
		if a, ok := alerts[alertNoGo]; ok {
			return false, alertNoGo + " still " + a.State
		}
		return true, ""
	})
	before, err := sliceMetrics(stack.MetricsURL)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := prom.alerts()
	if err != nil {
		t.Fatal(err)
	}
	_, violationAlreadyFiring := alerts[alertViolation]

	emulatorPost(t, "/admin/v1/impairments", `{"target": "`+alertUE+`", "delay": "`+alertDelay.String()+`"}`)
	injected := time.Now()

	// Watch the operator's metrics and Prometheus's alerts together.
	var noGoMetric, violationMetric, noGoFiring, violationFiring time.Duration
	deadline := injected.Add(alertTimeout)
	for noGoFiring == 0 || (violationFiring == 0 && !violationAlreadyFiring) {
		if time.Now().After(deadline) {
			t.Fatalf("within %s of the impairment: NO-GO metric %s, alert %s; violation metric %s, alert %s (Prometheus log %s)",
				alertTimeout, noGoMetric, noGoFiring, violationMetric, violationFiring, prom.logPath)
		}
		// A metric is taken to change when the answer that shows it
		// arrives (no earlier than it changed); an alert to fire when the
		// request that finds it firing starts (no later than it fired, up
		// to one poll): both err on the side of a longer bound only by
		// the test's own request times.
		if noGoMetric == 0 || violationMetric == 0 {
			if m, err := sliceMetrics(stack.MetricsURL); err == nil {
				seen := time.Since(injected)
				if noGoMetric == 0 && m.present && m.goValue == 0 {
					noGoMetric = seen
				}
				if violationMetric == 0 && m.violations > before.violations {
					violationMetric = seen
				}
			}
		}
		asked := time.Since(injected)
		if alerts, err := prom.alerts(); err == nil {
			if a, ok := alerts[alertNoGo]; ok && a.State == "firing" && noGoFiring == 0 {
				noGoFiring = asked
			}
			if a, ok := alerts[alertViolation]; ok && a.State == "firing" && violationFiring == 0 {
				violationFiring = asked
			}
		}
		time.Sleep(alertsPoll)
	}

	// The contract: Prometheus sees the change at its next scrape (up to
	// one scrape interval), the rule at its next evaluation (up to one
	// evaluation interval, half a scrape interval), and an alert with for:
	// fires once it has held that long: within for: plus two scrape
	// intervals. The test's own polling can see the firing alert up to one
	// poll late.
	check := func(alert string, metric, firing time.Duration) {
		if metric == 0 {
			t.Errorf("%s fired %s after the impairment, before the test saw its metric change", alert, firing.Round(time.Millisecond))
			return
		}
		bound := metric + holds[alert] + 2*scrapeInterval + alertsPoll
		t.Logf("%s: metric changed %s after the impairment, alert firing %s after it (for: %s, scrape every %s, evaluation every %s: bound %s)",
			alert, metric.Round(time.Millisecond), firing.Round(time.Millisecond), holds[alert], scrapeInterval, evalInterval, bound.Round(time.Millisecond))
		fmt.Printf("e2e alert %s: metric change %s, firing %s after injection; contract bound %s\n",
			alert, metric.Round(time.Millisecond), firing.Round(time.Millisecond), bound.Round(time.Millisecond))
		if firing > bound {
			t.Errorf("%s fired %s after the impairment, later than its metric change (%s) + for: (%s) + 2 scrape intervals of %s",
				alert, firing.Round(time.Millisecond), metric.Round(time.Millisecond), holds[alert], scrapeInterval)
		}
	}
	check(alertNoGo, noGoMetric, noGoFiring)
	if violationAlreadyFiring {
		t.Logf("%s was already firing for %s/%s before the impairment (a violation during its first verification period): not timed", alertViolation, alertNamespace, alertSlice)
	} else {
		check(alertViolation, violationMetric, violationFiring)
	}
	if t.Failed() {
		prom.keepLog = true
	}
}

// ruleHolds reads each alert's for: from a Prometheus rule file (zero when
// it has none).
func ruleHolds(path string) (map[string]time.Duration, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
				For   string `json:"for"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rf); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]time.Duration{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			var d model.Duration
			if r.For != "" {
				if d, err = model.ParseDuration(r.For); err != nil {
					return nil, fmt.Errorf("%s: alert %s: for: %w", path, r.Alert, err)
				}
			}
			out[r.Alert] = time.Duration(d)
		}
	}
	for _, a := range []string{alertNoGo, alertViolation} {
		if _, ok := out[a]; !ok {
			return nil, fmt.Errorf("%s has no alert %s", path, a)
		}
	}
	return out, nil
}

// alertSliceMetrics is what the operator's endpoint says of the test's slice.
type alertSliceMetrics struct {
	present    bool
	goValue    float64
	violations float64
}

func sliceMetrics(url string) (alertSliceMetrics, error) {
	var out alertSliceMetrics
	resp, err := http.Get(url)
	if err != nil {
		return out, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return out, fmt.Errorf("parsing %s: %w", url, err)
	}
	ours := func(labels map[string]string) bool {
		return labels["namespace"] == alertNamespace && labels["slice"] == alertSlice
	}
	for _, m := range families["medslice_slice_go"].GetMetric() {
		if ours(labelMap(m.GetLabel())) {
			out.present, out.goValue = true, m.GetGauge().GetValue()
		}
	}
	for _, m := range families["medslice_sla_violations_total"].GetMetric() {
		if ours(labelMap(m.GetLabel())) {
			out.violations += m.GetCounter().GetValue()
		}
	}
	return out, nil
}

func labelMap[L interface {
	GetName() string
	GetValue() string
}](ls []L) map[string]string {
	out := make(map[string]string, len(ls))
	for _, l := range ls {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// prometheus is a Prometheus server the test started.
type prometheus struct {
	t       *testing.T
	url     string
	dir     string
	logPath string
	keepLog bool
	cmd     *exec.Cmd
	done    chan struct{}
}

// startPrometheus runs Prometheus on a free port, scraping target's
// /metrics every scrapeInterval and evaluating rulesFile every evalInterval, with its storage
// in a directory of its own. It is stopped when the test ends; its log is
// kept, and its path printed, when the test failed.
func startPrometheus(t *testing.T, rulesFile, target string) *prometheus {
	t.Helper()
	dir, err := os.MkdirTemp("", "medslice-e2e-prometheus-")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[4]s
rule_files:
  - %[2]q
scrape_configs:
  - job_name: medslice-operator
    metrics_path: /metrics
    static_configs:
      - targets: [%[3]q]
`, model.Duration(scrapeInterval), rulesFile, target, model.Duration(evalInterval))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &prometheus{t: t, url: "http://" + addr, dir: dir, logPath: filepath.Join(dir, "prometheus.log"), done: make(chan struct{})}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(promBinary,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=info",
	)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", promBinary, err)
	}
	go func() {
		_ = p.cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	t.Cleanup(p.stop)
	start := time.Now()
	for {
		resp, err := http.Get(p.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-p.done:
			p.keepLog = true
			t.Fatalf("Prometheus exited at start; log %s:\n%s", p.logPath, tail(p.logPath))
		default:
		}
		if time.Since(start) > promStartTimeout {
			p.keepLog = true
			t.Fatalf("Prometheus not ready within %s; log %s", promStartTimeout, p.logPath)
		}
		time.Sleep(alertsPoll)
	}
	t.Logf("Prometheus %s ready in %s, scraping %s every %s, rules %s every %s", p.url, time.Since(start).Round(time.Millisecond), target, scrapeInterval, rulesFile, evalInterval)
	return p
}

// stop ends Prometheus (SIGTERM, then SIGKILL) and removes its directory
// unless the test failed.
func (p *prometheus) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if p.keepLog || p.t.Failed() {
		p.t.Logf("Prometheus log kept in %s", p.logPath)
		fmt.Printf("e2e: Prometheus log kept in %s\n", p.logPath)
		return
	}
	os.RemoveAll(p.dir)
}

// promAlert is one entry of GET /api/v1/alerts.
type promAlert struct {
	Labels   map[string]string `json:"labels"`
	State    string            `json:"state"`
	ActiveAt time.Time         `json:"activeAt"`
}

// alerts returns the pending or firing alerts about the test's slice, by name.
func (p *prometheus) alerts() (map[string]promAlert, error) {
	resp, err := http.Get(p.url + "/api/v1/alerts")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var out struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []promAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("GET /api/v1/alerts: %w: %s", err, bytes.TrimSpace(raw))
	}
	if out.Status != "success" {
		return nil, errors.New("GET /api/v1/alerts: " + string(bytes.TrimSpace(raw)))
	}
	m := map[string]promAlert{}
	for _, a := range out.Data.Alerts {
		if a.Labels["namespace"] == alertNamespace && a.Labels["slice"] == alertSlice {
			m[a.Labels["alertname"]] = a
		}
	}
	return m, nil
}

// tail returns the end of a log file.
func tail(path string) string {
	raw, _ := os.ReadFile(path)
	if len(raw) > 4096 {
		raw = raw[len(raw)-4096:]
	}
	return string(raw)
}
