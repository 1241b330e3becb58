//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/testenv"
)

// Leader election settings of the failover test: shorter than the
// operator's defaults (15 s, 10 s, 2 s) to keep the test short, long
// enough that a busy machine does not make the leader lose its lease.
const (
	haLeaseDuration = 6 * time.Second
	haRenewDeadline = 4 * time.Second
	haRetryPeriod   = time.Second
	haNS            = "ha"
	haSmallCore     = "ha-small"
	haLeaseName     = "medslice-operator.medslice.io"
	haSample        = 200 * time.Millisecond
	// haVerificationPeriod is imaging-embb's: how long the SLA must hold
	// before a probed slice of this test is GO.
	haVerificationPeriod = 10 * time.Second
)

// TestLeaderFailover runs two operator replicas with leader election on a
// stack of its own and SIGKILLs the leader. The standby must take over
// within about the lease duration; nothing is duplicated on the core; a
// booking admitted just before the kill stays admitted, once, and holds
// its capacity against a booking made during the handover; probes resume
// and the slices become GO again by measurement; and no GO is ever
// written on measurements older than the takeover. The notification
// receiver and the console are asked during the handover, through the
// front (the stand-in for the Service) and on each replica, and what they
// answered is printed.
func TestLeaderFailover(t *testing.T) {
	ctx := context.Background()
	began := time.Now()
	hs := startHAStack(t)
	s := hs.stack
	t.Logf("failover: leader election lease %s, renew deadline %s, retry period %s", haLeaseDuration, haRenewDeadline, haRetryPeriod)

	// Slices that are probed (imaging-embb: GO after 10 s of measurement),
	// one per core API.
	var probed []*v1alpha1.MedicalSlice
	for i, coreName := range []string{devstack.CoreNEF, devstack.CorePCF, devstack.CoreNEF} {
		sl := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: haNS, Name: fmt.Sprintf("probed-%d", i)}}
		sl.Spec.Profile, sl.Spec.CoreRef, sl.Spec.Purpose = "imaging-embb", coreName, "failover test"
		sl.Spec.Devices = []v1alpha1.Device{{Name: "probe", IPv4: fmt.Sprintf("10.47.0.%d", i+1)}}
		sl.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000"}}
		if err := s.Client.Create(ctx, sl); err != nil {
			t.Fatal(err)
		}
		probed = append(probed, sl)
	}
	booking := func(name string, ip string) *v1alpha1.MedicalSlice {
		start := time.Now().Add(24 * time.Hour).Truncate(time.Minute)
		b := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: haNS, Name: name}}
		b.Spec.Profile, b.Spec.CoreRef, b.Spec.Purpose = "surgery-urllc", haSmallCore, "failover test booking"
		b.Spec.Devices = []v1alpha1.Device{{Name: "arm", IPv4: ip}}
		b.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000"}}
		b.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.Time{Time: start}, End: metav1.Time{Time: start.Add(2 * time.Hour)}}
		return b
	}
	first := booking("booked-first", "10.47.1.1")
	if err := s.Client.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	goBefore := eventually(t, goTimeout, "probed slices GO before the kill", func() (bool, string) { return allGO(ctx, s, probed) })
	waitDecision(t, s, first, v1alpha1.AdmissionAdmitted)
	t.Logf("failover: 3 probed slices GO %s after creation", goBefore.Round(time.Millisecond))

	leader, identity := hs.leader(t)
	standby := s.Replicas()[1-leader.Index]
	t.Logf("failover: replica %d leads (lease holder %s), replica %d stands by", leader.Index, identity, standby.Index)
	nefSession := hs.nefNotificationPath(t)

	// The booking made just before the kill: the leader decided it and the
	// decision is persisted.
	second := booking("booked-before-kill", "10.47.1.2")
	if err := s.Client.Create(ctx, second); err != nil {
		t.Fatal(err)
	}
	decided := waitDecision(t, s, second, v1alpha1.AdmissionAdmitted)

	sampler := startHASampler(ctx, s, probed, leader, standby, nefSession)
	killedAt := time.Now()
	leader.Proc().Kill()
	// A booking made while no one leads: the two before it fill the core.
	third := booking("booked-during-handover", "10.47.1.3")
	if err := s.Client.Create(ctx, third); err != nil {
		t.Fatal(err)
	}

	var newHolder string
	eventually(t, 10*haLeaseDuration, "a new lease holder", func() (bool, string) {
		var l coordinationv1.Lease
		if err := s.Client.Get(ctx, types.NamespacedName{Namespace: devstack.OperatorNamespace, Name: haLeaseName}, &l); err != nil {
			return false, err.Error()
		}
		if l.Spec.HolderIdentity != nil {
			newHolder = *l.Spec.HolderIdentity
		}
		return newHolder != "" && newHolder != identity, "held by " + newHolder
	})
	takeover := time.Since(killedAt)
	takeoverAt := killedAt.Add(takeover)
	eventually(t, 10*haLeaseDuration, "the new leader reconciles", func() (bool, string) {
		n, err := metricSum(standby.MetricsURL, `controller_runtime_reconcile_total{controller="medicalslice"`)
		return err == nil && n > 0, fmt.Sprint(n, err)
	})
	firstReconcile := time.Since(killedAt)
	eventually(t, 10*haLeaseDuration, "the new leader probes", func() (bool, string) {
		n, err := metricSum(standby.MetricsURL, `medslice_probe_packets_total{`)
		return err == nil && n > 0, fmt.Sprint(n, err)
	})
	probesResumed := time.Since(killedAt)
	eventually(t, goTimeout, "probed slices GO again", func() (bool, string) { return allGO(ctx, s, probed) })
	goAgain := time.Since(killedAt)
	thirdDecision := waitDecision(t, s, third, v1alpha1.AdmissionDeclined)
	eventually(t, settleTimeout, "the sampler sees every probed slice GO", func() (bool, string) {
		n := sampler.goSince(killedAt)
		return n == len(probed), fmt.Sprintf("%d of %d", n, len(probed))
	})
	samples, answers := sampler.stop()

	// No GO on old measurements. The GO the old leader wrote stays in
	// status until the new leader's first pass over the slice; from then
	// on, GO must be the new leader's, after a verification period of its
	// own measurements.
	oldGO := hs.checkNoStaleGO(t, samples, probed, killedAt, takeoverAt)

	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	line := fmt.Sprintf("failover: lease=%s takeover=%s firstReconcile=%s probesResumed=%s goAgain=%s oldGOStood=%s (each from the SIGKILL of the leader)",
		haLeaseDuration, ms(takeover), ms(firstReconcile), ms(probesResumed), ms(goAgain), ms(oldGO))
	fmt.Println(line)
	t.Log(line)
	// The standby takes over once it has seen no renewal for a lease
	// duration; it last saw one up to a retry period (with client-go's
	// jitter, 2.2 of them) before the kill.
	if takeover > haLeaseDuration+2*haRetryPeriod+haRetryPeriod/5 {
		t.Logf("failover: takeover took %s, more than the lease duration %s plus 2.2 retry periods (a busy machine?)", ms(takeover), haLeaseDuration)
	}

	// The endpoints during the handover.
	for _, a := range summarize(answers) {
		t.Logf("failover: from the kill until GO again, %s", a)
	}
	for _, ep := range []string{"notify via front", "console via front", "notify on standby", "console on standby"} {
		if !answered(answers, ep, killedAt.Add(takeover)) {
			t.Errorf("%s never answered during the handover", ep)
		}
	}

	// Admission: the booking decided before the kill is still admitted,
	// decided once; the one made during the handover does not fit.
	var after v1alpha1.MedicalSlice
	if err := s.Client.Get(ctx, client.ObjectKeyFromObject(second), &after); err != nil {
		t.Fatal(err)
	}
	a := after.Status.Admission
	if a == nil || a.Decision != v1alpha1.AdmissionAdmitted {
		t.Errorf("the booking admitted before the kill is now %+v", a)
	} else if !a.DecidedAt.Equal(decided.DecidedAt) {
		t.Errorf("the booking admitted before the kill was decided again: at %s, then %s", decided.DecidedAt, a.DecidedAt)
	}
	if n := eventCount(t, s, &after, string(admission.ReasonAdmitted)); n > 1 {
		t.Errorf("%d Admitted events for the booking admitted before the kill, want at most 1", n)
	}
	t.Logf("failover: booking admitted before the kill: %s (decided %s, unchanged); booking made during the handover: %s",
		a.Decision, decided.DecidedAt.Format(time.RFC3339), thirdDecision.Decision)
	var list v1alpha1.MedicalSliceList
	if err := s.Client.List(ctx, &list, client.InNamespace(haNS)); err != nil {
		t.Fatal(err)
	}
	var admitted []admission.Booking
	for _, sl := range list.Items {
		if sl.Spec.CoreRef == haSmallCore && sl.Status.Admission != nil && sl.Status.Admission.Decision == v1alpha1.AdmissionAdmitted {
			st := sl.Status.Admission
			admitted = append(admitted, admission.Booking{Key: admission.Key{Namespace: sl.Namespace, Name: sl.Name, UID: sl.UID},
				Interval: admission.Interval{Start: st.From.Time, End: st.Until.Time},
				Demand:   admission.Resources{GBRUplinkKbps: st.Reserved.GBRUplinkKbps, GBRDownlinkKbps: st.Reserved.GBRDownlinkKbps, Sessions: st.Reserved.Sessions}})
		}
	}
	if err := admission.Check(admission.CapacityOf(haCapacity), admitted); err != nil {
		t.Errorf("after the failover: %v", err)
	}
	if len(admitted) != 2 {
		t.Errorf("%d bookings admitted on %s, want 2 (it fits two)", len(admitted), haSmallCore)
	}

	// The core: exactly one session per probed device, none for the
	// bookings (their windows are tomorrow).
	o, m, d := hs.sessionCounts(t, probed)
	t.Logf("failover: core sessions after the handover: orphans=%d missing=%d duplicates=%d; test took %s", o, m, d, time.Since(began).Round(time.Second))
	if o+m+d != 0 {
		t.Errorf("core and slices disagree after the failover: orphans=%d missing=%d duplicates=%d", o, m, d)
	}
	if t.Failed() {
		t.Logf("failover: logs kept in %s", hs.state)
	} else {
		s.Stop()
		os.RemoveAll(hs.state)
	}
}

var haCapacity = v1alpha1.CoreCapacity{GBRUplinkKbps: 40_000, GBRDownlinkKbps: 40_000, MaxSessions: 10}

type haStack struct {
	stack *devstack.Stack
	state string
}

func startHAStack(t *testing.T) *haStack {
	t.Helper()
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	state, err := os.MkdirTemp("", "medslice-ha-")
	if err != nil {
		t.Fatal(err)
	}
	s, err := devstack.Start(ctx, devstack.Options{
		Root: root, BinDir: filepath.Join(root, "bin"), StateDir: state, Replicas: 2,
		OperatorArgs: []string{
			"--leader-elect-lease-duration", haLeaseDuration.String(),
			"--leader-elect-renew-deadline", haRenewDeadline.String(),
			"--leader-elect-retry-period", haRetryPeriod.String(),
		},
	})
	if err != nil {
		t.Fatalf("starting the failover stack: %v (logs in %s)", err, state)
	}
	t.Cleanup(func() {
		if t.Failed() {
			s.Stop()
		}
	})
	small := s.Cores()[1] // PCF
	small.Name, small.Spec.Capacity = haSmallCore, haCapacity
	if err := s.Client.Create(ctx, small); err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Create(ctx, nsObject(haNS)); err != nil {
		t.Fatal(err)
	}
	return &haStack{stack: s, state: state}
}

// leader finds the replica that leads, by its leader election metric (both
// replicas run on one host, so the lease's holder identity, host name and
// a random suffix, does not tell them apart), and the lease's holder.
func (hs *haStack) leader(t *testing.T) (*devstack.Replica, string) {
	t.Helper()
	var leader *devstack.Replica
	var identity string
	eventually(t, 10*haLeaseDuration, "a leader", func() (bool, string) {
		leader = nil
		var status []string
		for _, r := range hs.stack.Replicas() {
			n, err := metricSum(r.MetricsURL, `leader_election_master_status{name="`+haLeaseName+`"}`)
			status = append(status, fmt.Sprintf("replica %d: %v %v", r.Index, n, err))
			if err == nil && n == 1 {
				leader = r
			}
		}
		var l coordinationv1.Lease
		if err := hs.stack.Client.Get(context.Background(), types.NamespacedName{Namespace: devstack.OperatorNamespace, Name: haLeaseName}, &l); err != nil {
			return false, err.Error()
		}
		if l.Spec.HolderIdentity != nil {
			identity = *l.Spec.HolderIdentity
		}
		return leader != nil && identity != "", strings.Join(status, ", ")
	})
	return leader, identity
}

// nefNotificationPath is the notification path of a NEF session, signed by
// the operator: what the core would call.
func (hs *haStack) nefNotificationPath(t *testing.T) string {
	t.Helper()
	ss, err := sessionsAt(hs.stack.EmulatorURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ss {
		if s.API == "nef" {
			u, err := url.Parse(s.NotificationURI)
			if err == nil {
				return u.EscapedPath()
			}
		}
	}
	t.Fatalf("no NEF session with a notification URI among %d sessions", len(ss))
	return ""
}

func (hs *haStack) sessionCounts(t *testing.T, probed []*v1alpha1.MedicalSlice) (orphans, missing, duplicates int) {
	t.Helper()
	want := map[string]bool{}
	for _, p := range probed {
		var sl v1alpha1.MedicalSlice
		if err := hs.stack.Client.Get(context.Background(), client.ObjectKeyFromObject(p), &sl); err != nil {
			t.Fatal(err)
		}
		for _, d := range sl.Spec.Devices {
			want[string(sl.UID)+"/"+d.Name] = true
		}
	}
	ss, err := sessionsAt(hs.stack.EmulatorURL)
	if err != nil {
		t.Fatal(err)
	}
	got := byCorrelation(ss)
	for k, n := range got {
		if !want[k] {
			orphans += n
			continue
		}
		duplicates += n - 1
	}
	for k := range want {
		if got[k] == 0 {
			missing++
		}
	}
	return
}

func allGO(ctx context.Context, s *devstack.Stack, slices []*v1alpha1.MedicalSlice) (bool, string) {
	var why []string
	for _, p := range slices {
		var sl v1alpha1.MedicalSlice
		if err := s.Client.Get(ctx, client.ObjectKeyFromObject(p), &sl); err != nil {
			return false, err.Error()
		}
		if !meta.IsStatusConditionTrue(sl.Status.Conditions, v1alpha1.ConditionReady) {
			why = append(why, sl.Name+" "+condOf(&sl, v1alpha1.ConditionReady))
		}
	}
	return len(why) == 0, strings.Join(why, ", ")
}

func waitDecision(t *testing.T, s *devstack.Stack, b *v1alpha1.MedicalSlice, want v1alpha1.AdmissionDecision) *v1alpha1.AdmissionStatus {
	t.Helper()
	var got *v1alpha1.AdmissionStatus
	eventually(t, settleTimeout, b.Name+" "+string(want), func() (bool, string) {
		var sl v1alpha1.MedicalSlice
		if err := s.Client.Get(context.Background(), client.ObjectKeyFromObject(b), &sl); err != nil {
			return false, err.Error()
		}
		got = sl.Status.Admission
		if got == nil {
			return false, "undecided"
		}
		return got.Decision == want, string(got.Decision) + ": " + got.Message
	})
	return got
}

func eventCount(t *testing.T, s *devstack.Stack, sl *v1alpha1.MedicalSlice, reason string) int {
	t.Helper()
	var list eventsv1.EventList
	if err := s.Client.List(context.Background(), &list, client.InNamespace(sl.Namespace)); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range list.Items {
		if e.Regarding.UID == sl.UID && e.Reason == reason {
			n++
		}
	}
	return n
}

// metricSum adds the values of the samples whose line starts with prefix.
func metricSum(metricsURL, prefix string) (float64, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(metricsURL)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum, sc.Err()
}

// haSample is one look at a probed slice's Ready condition.
type readySample struct {
	at     time.Time
	slice  string
	status metav1.ConditionStatus
	reason string
	since  time.Time // lastTransitionTime
	gen    int64
}

// endpointAnswer is what one endpoint answered at one instant.
type endpointAnswer struct {
	at       time.Time
	endpoint string
	answer   string // status line, or the error
	ok       bool   // the server answered (any HTTP status)
}

type haSampler struct {
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	samples []readySample
	answers []endpointAnswer
}

// startHASampler looks at the probed slices' Ready condition and asks the
// notification receiver and console, through the front and on each
// replica, every haSample until stopped.
func startHASampler(ctx context.Context, s *devstack.Stack, probed []*v1alpha1.MedicalSlice, leader, standby *devstack.Replica, notifyPath string) *haSampler {
	ctx, cancel := context.WithCancel(ctx)
	hs := &haSampler{cancel: cancel, done: make(chan struct{})}
	c := &http.Client{Timeout: 2 * time.Second}
	// An authentic notification, as the core sends after a create
	// (TS 29.122 UserPlaneNotificationData): it only wakes a reconcile.
	const body = `{"transaction": "failover-test", "eventReports": [{"event": "SUCCESSFUL_RESOURCES_ALLOCATION"}]}`
	endpoints := []struct{ name, method, url string }{
		{"notify via front", http.MethodPost, s.NotifyURL + notifyPath},
		{"console via front", http.MethodGet, s.ConsoleURL + "/signin"},
		{"notify on old leader", http.MethodPost, leader.NotifyURL + notifyPath},
		{"console on old leader", http.MethodGet, leader.ConsoleURL + "/signin"},
		{"notify on standby", http.MethodPost, standby.NotifyURL + notifyPath},
		{"console on standby", http.MethodGet, standby.ConsoleURL + "/signin"},
	}
	go func() {
		defer close(hs.done)
		tick := time.NewTicker(haSample)
		defer tick.Stop()
		for {
			for _, p := range probed {
				var sl v1alpha1.MedicalSlice
				if err := s.Client.Get(ctx, client.ObjectKeyFromObject(p), &sl); err != nil {
					continue
				}
				if c := meta.FindStatusCondition(sl.Status.Conditions, v1alpha1.ConditionReady); c != nil {
					hs.mu.Lock()
					hs.samples = append(hs.samples, readySample{at: time.Now(), slice: sl.Name, status: c.Status, reason: c.Reason, since: c.LastTransitionTime.Time, gen: sl.Generation})
					hs.mu.Unlock()
				}
			}
			for _, ep := range endpoints {
				req, _ := http.NewRequestWithContext(ctx, ep.method, ep.url, strings.NewReader(body))
				if ep.method == http.MethodPost {
					req.Header.Set("Content-Type", "application/json")
				}
				a := endpointAnswer{at: time.Now(), endpoint: ep.name}
				resp, err := c.Do(req)
				if ctx.Err() != nil {
					return // stopped: this answer is the sampler's, not the endpoint's
				}
				if err != nil {
					a.answer = shortErr(err)
				} else {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					a.answer, a.ok = resp.Status, true
				}
				hs.mu.Lock()
				hs.answers = append(hs.answers, a)
				hs.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return hs
}

// goSince counts the slices sampled GO with a transition after t.
func (hs *haSampler) goSince(t time.Time) int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	seen := map[string]bool{}
	for _, smp := range hs.samples {
		if smp.status == metav1.ConditionTrue && !smp.since.Before(t.Truncate(time.Second)) {
			seen[smp.slice] = true
		}
	}
	return len(seen)
}

func (hs *haSampler) stop() ([]readySample, []endpointAnswer) {
	hs.cancel()
	<-hs.done
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.samples, hs.answers
}

// shortErr keeps the part of a client error a person reads: "connection
// refused", "EOF".
func shortErr(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}

// checkNoStaleGO fails on a GO that does not rest on a verification period
// of the new leader's own measurements. The GO the old leader wrote stands
// until the new leader's first pass over the slice (nothing can withdraw it
// sooner); once the new leader has judged the slice, every Ready=True must
// have turned True at least a verification period after the takeover. It
// prints how long the old GO stood after the kill.
func (hs *haStack) checkNoStaleGO(t *testing.T, samples []readySample, probed []*v1alpha1.MedicalSlice, killedAt, takeoverAt time.Time) (longest time.Duration) {
	t.Helper()
	// Conditions carry whole seconds.
	earliestGO := takeoverAt.Add(haVerificationPeriod - time.Second)
	for _, p := range probed {
		var judged, oldGOUntil, newGO time.Time
		for _, smp := range samples {
			if smp.slice != p.Name || smp.at.Before(killedAt) {
				continue
			}
			switch {
			case smp.status == metav1.ConditionTrue && smp.since.Before(killedAt):
				if !judged.IsZero() {
					t.Errorf("%s: at %s, after the new leader judged it (%s), Ready is True since %s, before the kill: a GO on old measurements",
						p.Name, smp.at.Format("15:04:05.000"), judged.Format("15:04:05.000"), smp.since.Format("15:04:05"))
				}
				oldGOUntil = smp.at
				longest = max(longest, smp.at.Sub(killedAt))
			case smp.status == metav1.ConditionTrue:
				if smp.since.Before(earliestGO) {
					t.Errorf("%s: GO since %s, %s after the takeover: less than a verification period (%s) of the new leader's measurements",
						p.Name, smp.since.Format("15:04:05"), smp.since.Sub(takeoverAt).Round(time.Millisecond), haVerificationPeriod)
				}
				if newGO.IsZero() {
					newGO = smp.since
				}
				if judged.IsZero() {
					judged = smp.at
				}
			case judged.IsZero():
				judged = smp.at
				t.Logf("failover: %s: the old leader's GO stood %s after the kill; the new leader made it Ready=%s/%s %s after the kill",
					p.Name, durOrZero(oldGOUntil, killedAt), smp.status, smp.reason, smp.at.Sub(killedAt).Round(time.Millisecond))
			}
		}
		if judged.IsZero() {
			t.Errorf("%s: never judged by the new leader while sampled", p.Name)
		}
		if !newGO.IsZero() {
			t.Logf("failover: %s: GO again in the second from %s (conditions keep whole seconds); the takeover was at %s", p.Name, newGO.Format("15:04:05"), takeoverAt.Format("15:04:05.000"))
		}
	}
	return longest
}

func durOrZero(until, from time.Time) time.Duration {
	if until.IsZero() {
		return 0
	}
	return until.Sub(from).Round(time.Millisecond)
}

// summarize groups what each endpoint answered, in order, as runs: "notify
// via front: 204 No Content ×12, EOF ×1, 204 No Content ×30".
func summarize(answers []endpointAnswer) []string {
	byEndpoint := map[string][]endpointAnswer{}
	var names []string
	for _, a := range answers {
		if _, ok := byEndpoint[a.endpoint]; !ok {
			names = append(names, a.endpoint)
		}
		byEndpoint[a.endpoint] = append(byEndpoint[a.endpoint], a)
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		var runs []string
		as := byEndpoint[n]
		for i := 0; i < len(as); {
			j := i
			for j < len(as) && as[j].answer == as[i].answer {
				j++
			}
			runs = append(runs, fmt.Sprintf("%s ×%d", as[i].answer, j-i))
			i = j
		}
		out = append(out, n+": "+strings.Join(runs, ", "))
	}
	return out
}

// answered tells whether the endpoint answered (any HTTP status) at some
// instant before the given one.
func answered(answers []endpointAnswer, endpoint string, before time.Time) bool {
	for _, a := range answers {
		if a.endpoint == endpoint && a.ok && a.at.Before(before) {
			return true
		}
	}
	return false
}
