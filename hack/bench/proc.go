package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// clockTick is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTick = 100

// procSet names the processes of a stack whose CPU is reported.
type procSet map[string]int

// stackProcs finds the stack's processes: the operator and the emulator
// by pid, kube-apiserver and etcd as this process's children (envtest
// starts them).
func stackProcs(operator, emulator int) procSet {
	ps := procSet{"operator": operator, "emulator": emulator}
	self := os.Getpid()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		comm, ppid, _, err := procStat(pid)
		if err != nil || ppid != self {
			continue
		}
		switch comm {
		case "kube-apiserver":
			ps["apiserver"] = pid
		case "etcd":
			ps["etcd"] = pid
		}
	}
	return ps
}

// cpuSample is CPU time used so far, by process name.
type cpuSample map[string]time.Duration

func (ps procSet) cpu() cpuSample {
	out := cpuSample{}
	for name, pid := range ps {
		if _, _, t, err := procStat(pid); err == nil {
			out[name] = t
		}
	}
	out["bench"] = cpuTime()
	return out
}

func (a cpuSample) sub(b cpuSample) cpuSample {
	out := cpuSample{}
	for k, v := range a {
		out[k] = v - b[k]
	}
	return out
}

func (a cpuSample) of(name string) time.Duration { return a[name] }

func (a cpuSample) names() []string {
	order := map[string]int{"operator": 0, "apiserver": 1, "etcd": 2, "emulator": 3, "bench": 4}
	var ns []string
	for k := range a {
		ns = append(ns, k)
	}
	sort.Slice(ns, func(i, j int) bool { return order[ns[i]] < order[ns[j]] })
	return ns
}

// cores formats CPU time over wall as cores used.
func (a cpuSample) cores(wall time.Duration) string {
	var parts []string
	for _, k := range a.names() {
		parts = append(parts, fmt.Sprintf("%s %.2f", k, a[k].Seconds()/wall.Seconds()))
	}
	return strings.Join(parts, ", ")
}

// percent formats CPU time over wall as a percentage of one core.
func (a cpuSample) percent(wall time.Duration) string {
	var parts []string
	for _, k := range a.names() {
		parts = append(parts, fmt.Sprintf("%s %.2f%%", k, 100*a[k].Seconds()/wall.Seconds()))
	}
	return strings.Join(parts, ", ")
}

// procStat reads a process's name, parent and CPU time (utime + stime).
func procStat(pid int) (comm string, ppid int, cpu time.Duration, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, 0, err
	}
	s := string(b)
	// The name is in parentheses and may hold spaces: fields resume
	// after the last ')'.
	l, r := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if l < 0 || r < l {
		return "", 0, 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	comm = s[l+1 : r]
	f := strings.Fields(s[r+1:])
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return "", 0, 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return comm, ppid, time.Duration(ut+st) * time.Second / clockTick, nil
}

// procStatusKB reads one kB figure (VmHWM, VmRSS) of /proc/<pid>/status.
func procStatusKB(pid int, field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

// reconciles summarises the operator's MedicalSlice reconciles by result,
// from controller-runtime's metrics.
func reconciles(metricsURL string) string {
	resp, err := http.Get(metricsURL)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	defer resp.Body.Close()
	var parts []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "controller_runtime_reconcile_total{") || !strings.Contains(l, `controller="medicalslice"`) {
			continue
		}
		i := strings.Index(l, `result="`)
		j := strings.LastIndexByte(l, ' ')
		if i < 0 || j < 0 {
			continue
		}
		result := l[i+len(`result="`):]
		result = result[:strings.IndexByte(result, '"')]
		if v := strings.TrimSpace(l[j:]); v != "0" {
			parts = append(parts, result+" "+v)
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// requests counts the API server's requests on MedicalSlices by verb and
// subresource, and on Events by verb, from its apiserver_request_total
// metric.
type requests map[string]int64

func apiRequests(ctx context.Context, cfg *rest.Config) (requests, error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(cfg.Host, "/")+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("API server metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("API server metrics: %s", resp.Status)
	}
	out := requests{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, "apiserver_request_total{") {
			continue
		}
		resource := label(l, "resource")
		if resource != "medicalslices" && resource != "events" {
			continue
		}
		verb, sub := label(l, "verb"), label(l, "subresource")
		if resource == "events" {
			verb = "events " + verb
		}
		if sub != "" {
			verb += " " + sub
		}
		if code := label(l, "code"); code != "200" && code != "201" {
			verb += " (" + code + ")"
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(l[strings.LastIndexByte(l, ' '):]), 64)
		if err != nil {
			continue
		}
		out[verb] += int64(v)
	}
	return out, sc.Err()
}

func label(l, name string) string {
	i := strings.Index(l, name+`="`)
	if i < 0 {
		return ""
	}
	v := l[i+len(name)+2:]
	return v[:strings.IndexByte(v, '"')]
}

func (a requests) sub(b requests) requests {
	out := requests{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

func (a requests) keys() []string {
	var ks []string
	for k := range a {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// per formats the counts and their rate per slice.
func (a requests) per(n int) string {
	var parts []string
	for _, k := range a.keys() {
		parts = append(parts, fmt.Sprintf("%s %d (%.2f/slice)", k, a[k], float64(a[k])/float64(n)))
	}
	return strings.Join(parts, ", ")
}

func (a requests) total() string {
	if len(a) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range a.keys() {
		parts = append(parts, fmt.Sprintf("%s %d", k, a[k]))
	}
	return strings.Join(parts, ", ")
}

// writes counts the writes among the requests: creates, updates, patches
// and deletes, of slices and of Events.
func (a requests) writes() int64 {
	var n int64
	for k, v := range a {
		verb := strings.TrimPrefix(k, "events ")
		for _, w := range []string{"POST", "PUT", "PATCH", "DELETE"} {
			if strings.HasPrefix(verb, w) {
				n += v
			}
		}
	}
	return n
}

func (a requests) statusWrites() int64 {
	var n int64
	for k, v := range a {
		if k == "PUT status" || k == "PATCH status" {
			n += v
		}
	}
	return n
}
