package chart

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not found: install the Debian package prometheus (apt-get install -y prometheus) to test the alerting rules")
	}
	return p
}

// TestPromtoolRules runs the rule unit tests of config/prometheus.
func TestPromtoolRules(t *testing.T) {
	pt := promtool(t)
	dir := filepath.Join(repoRoot(t), "config", "prometheus")
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "rules_test.yaml"}} {
		cmd := exec.Command(pt, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

var metricName = regexp.MustCompile(`\bmedslice_[a-z0-9_]+`)

// declaredMetrics reads the metric names internal/metrics registers, with the
// series names a histogram adds.
func declaredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "internal", "metrics", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	// Metrics declared with options (Name: "...") or, for a collector that
	// counts at scrape time, with prometheus.NewDesc("...", ...).
	decl := regexp.MustCompile(`(?:Name:\s+|prometheus\.NewDesc\(\s*)"(medslice_[a-z0-9_]+)"`)
	hist := regexp.MustCompile(`(?s)prometheus\.NewHistogram(Vec)?\(prometheus\.HistogramOpts\{\s*Name:\s+"(medslice_[a-z0-9_]+)"`)
	names := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
		for _, m := range hist.FindAllSubmatch(src, -1) {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				names[string(m[2])+s] = true
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("no medslice_ metric found in internal/metrics")
	}
	return names
}

func assertDeclared(t *testing.T, where, expr string, declared map[string]bool) {
	t.Helper()
	for _, m := range metricName.FindAllString(expr, -1) {
		if !declared[m] {
			t.Errorf("%s uses %s, which internal/metrics does not declare", where, m)
		}
	}
}

func TestRulesUseDeclaredMetrics(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "config", "prometheus", "rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(raw, &f); err != nil {
		t.Fatal(err)
	}
	declared := declaredMetrics(t)
	var alerts []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			alerts = append(alerts, r.Alert)
			assertDeclared(t, "alert "+r.Alert, r.Expr, declared)
		}
	}
	slices.Sort(alerts)
	want := []string{"MedSliceAdmissionDeclines", "MedSliceCoreUnreachable", "MedSliceNoGoDuringWindow", "MedSliceProbeSilent", "MedSliceSLAViolation"}
	if !slices.Equal(alerts, want) {
		t.Errorf("alerts %v, want %v", alerts, want)
	}
}

type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	GridPos *struct {
		W, H int
	} `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

type dashboard struct {
	UID        string           `json:"uid"`
	Title      string           `json:"title"`
	Panels     []dashboardPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
		} `json:"list"`
	} `json:"templating"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir(t), "dashboards", "medslice.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboards/medslice.json is not valid JSON: %v", err)
	}
	return d
}

// TestDashboard checks the dashboard's structure: unique panel ids, every
// query on a declared metric, and the views DESIGN §8 promises present.
func TestDashboard(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("dashboard uid %q title %q: both are needed for provisioning", d.UID, d.Title)
	}
	declared := declaredMetrics(t)
	ids := map[int]bool{}
	used := map[string]bool{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %q has no size", p.Title)
		}
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" || tg.RefID == "" {
				t.Errorf("panel %q has a query without expr or refId", p.Title)
			}
			assertDeclared(t, "panel "+p.Title, tg.Expr, declared)
			for _, m := range metricName.FindAllString(tg.Expr, -1) {
				used[m] = true
			}
		}
	}
	for _, m := range []string{
		"medslice_slice_go", "medslice_sla_rtt_p99_seconds", "medslice_probe_rtt_seconds_bucket",
		"medslice_sla_compliance_ratio", "medslice_sla_violations_total",
		"medslice_core_requests_total", "medslice_core_request_duration_seconds_bucket",
	} {
		if !used[m] {
			t.Errorf("no dashboard panel shows %s", m)
		}
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, m := range regexp.MustCompile(`\$\{?([a-z_]+)`).FindAllStringSubmatch(tg.Expr, -1) {
				if !vars[m[1]] && !strings.HasPrefix(m[1], "__") {
					t.Errorf("panel %q uses $%s, which the dashboard does not define", p.Title, m[1])
				}
			}
		}
	}
}

// TestDashboardExprsParse has promtool parse every dashboard query, as a
// recording rule with the dashboard's variables replaced by sample values.
func TestDashboardExprsParse(t *testing.T) {
	pt := promtool(t)
	vars := strings.NewReplacer(
		"$namespace", "or-3", "$slice", "robot", "$core", "carrier-nef",
		"$rtt_target_ms", "20", "$__rate_interval", "1m", "$__range", "1h",
	)
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for _, p := range readDashboard(t).Panels {
		for _, tg := range p.Targets {
			if tg.Expr != "" {
				rules = append(rules, rule{Record: "dashboard:panel", Expr: vars.Replace(tg.Expr)})
			}
		}
	}
	out, err := yaml.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "dashboard-rules.yaml")
	if err := os.WriteFile(f, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := exec.Command(pt, "check", "rules", f).CombinedOutput(); err != nil {
		t.Errorf("a dashboard query does not parse: %v\n%s", err, res)
	}
}
