//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/admission"
	"github.com/medslice/medslice/internal/devstack"
	"github.com/medslice/medslice/internal/scheme"
	"github.com/medslice/medslice/internal/testenv"
)

// What the chaos test does, and how long it gives things to settle. The
// run is paced by the clock (operations spread over chaosDuration), never
// judged by it.
const (
	chaosSlices   = 500
	chaosDuration = 150 * time.Second
	chaosMinKills = 20
	chaosSettle   = 6 * time.Minute
	chaosNS       = "chaos"
	// chaosSmallCore is a core that fits a few bookings, so that admission
	// decides, declines and pre-empts under the chaos.
	chaosSmallCore = "chaos-small"
	// chaosSessionLease bounds open-ended slices' core sessions. A PCF
	// cannot list its sessions, so one created for a device whose answer
	// was lost (a timeout, a kill), and removed from the spec before the
	// next pass found it by a 303, is ended only by its time bound (DESIGN
	// §3): short here so that the net works within the settle time.
	chaosSessionLease = 90 * time.Second
)

// chaosCapacity fits five surgical devices (20 Mbit/s each) or six imaging
// devices (15 Mbit/s uplink), and eight sessions.
var chaosCapacity = v1alpha1.CoreCapacity{GBRUplinkKbps: 100_000, GBRDownlinkKbps: 100_000, MaxSessions: 8}

// chaosKind is what a slice of the chaos test is.
type chaosKind int

const (
	// bulk: open-ended, on a core without limits: every device always has
	// its session.
	bulk chaosKind = iota
	// future: a booking on the small core whose window starts after the
	// test: admitted or declined, never provisioned.
	future
	// active: a booking on the small core whose window holds now: once
	// admitted (and until pre-empted), its devices have sessions.
	active
)

// TestChaos creates, modifies and deletes 500 slices in random order over a
// few minutes on a stack of its own, while the operator is SIGKILLed at
// random instants (at least 20 times), the core fails 10 % of calls,
// delays others beyond the operator's timeout (after the call took effect)
// and forgets everything once. Once the faults stop, the core must hold
// exactly the sessions the slices want (no orphan, none missing, no
// duplicate), and the persisted admission decisions must never, at any
// instant the API server recorded, have reserved more than the small
// core's capacity. Set MEDSLICE_CHAOS_SEED to replay a run's choices (the
// kills' instants depend on the machine).
func TestChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("the chaos test takes minutes")
	}
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("MEDSLICE_CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("MEDSLICE_CHAOS_SEED=%q: %v", v, err)
		}
	}
	t.Logf("chaos: seed=%d (MEDSLICE_CHAOS_SEED=%d replays the operations)", seed, seed)
	ctx := context.Background()
	cs := startChaosStack(t, seed)

	c := &chaos{t: t, cs: cs, rng: rand.New(rand.NewPCG(seed, seed^0x5eed)), kinds: map[string]chaosKind{}, devices: map[string]int{}}
	monitor := watchAdmissions(ctx, t, cs.stack, chaosCapacityOf())

	// The faults, the kills and the operations, all at once.
	began := time.Now()
	if err := postAt(cs.stack.EmulatorURL, "/admin/v1/faults", `{"errorRate": 0.1, "delayRate": 0.3, "maxDelay": "1500ms"}`); err != nil {
		t.Fatal(err)
	}
	killCtx, stopKilling := context.WithCancel(ctx)
	var kills atomic.Int64
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		kr := rand.New(rand.NewPCG(seed^0xdead, seed))
		for {
			// Between 1 and 7 s: about 35 kills over the chaos, at
			// instants the reconciler does not choose.
			wait := time.Second + time.Duration(kr.Int64N(int64(6*time.Second)))
			select {
			case <-killCtx.Done():
				return
			case <-time.After(wait):
			}
			cs.stack.Operator().Kill()
			kills.Add(1)
			if _, err := cs.stack.StartOperator(ctx); err != nil {
				t.Errorf("restarting the operator after kill %d: %v", kills.Load(), err)
				return
			}
		}
	}()
	c.run(ctx, began)
	stopKilling()
	<-killerDone
	if err := postAt(cs.stack.EmulatorURL, "/admin/v1/faults", `{}`); err != nil {
		t.Fatal(err)
	}
	chaosTook := time.Since(began)
	t.Logf("chaos: %d operations (%d creates, %d modifications, %d deletes) and %d kills in %s; core reset once at %s",
		c.ops, c.creates, c.modifies, c.deletes, kills.Load(), chaosTook.Round(time.Second), c.resetAt.Round(time.Second))

	atEnd := c.count(ctx)
	t.Logf("chaos: when the chaos stopped: orphans=%d missing=%d duplicates=%d", atEnd.orphans, atEnd.missing, atEnd.duplicates)

	// Settle: the faults are off and the operator runs undisturbed.
	settleStart := time.Now()
	var last chaosCounts
	var noneMissing, noOrphan time.Duration
	var waitedFor string // the last reason it was not settled
	settled := false
	for time.Since(settleStart) < chaosSettle {
		if last.why != "" {
			waitedFor = last.why
		}
		last = c.count(ctx)
		if last.missing == 0 && noneMissing == 0 {
			noneMissing = time.Since(settleStart)
		}
		if last.orphans == 0 && noOrphan == 0 {
			noOrphan = time.Since(settleStart)
		}
		if last.settled() {
			settled = true
			break
		}
		time.Sleep(time.Second)
	}
	t.Logf("chaos: settling, none missing after %s, no orphan after %s (on the PCF, only time bounds of %s end the sessions of devices removed before their create was recorded); the last wait was for: %s",
		noneMissing.Round(time.Second), noOrphan.Round(time.Second), chaosSessionLease, waitedFor)
	settle := time.Since(settleStart)
	over, firstOver := monitor.stop()
	line := fmt.Sprintf("chaos: seed=%d kills=%d slices=%d orphans=%d missing=%d duplicates=%d overAdmissions=%d settle=%s",
		seed, kills.Load(), c.creates, last.orphans, last.missing, last.duplicates, over, settle.Round(time.Second))
	fmt.Println(line)
	t.Log(line)
	t.Logf("chaos: at the end %d slices remain (%d bulk, %d future bookings, %d active bookings), %d core sessions; bookings on %s: %d admitted, %d declined, %d pre-empted; %d admission states watched; total %s",
		last.slices, last.byKind[bulk], last.byKind[future], last.byKind[active], last.sessions, chaosSmallCore,
		last.admitted, last.declined, last.preempted, monitor.events.Load(), time.Since(began).Round(time.Second))
	if !settled {
		t.Errorf("not settled within %s: %s", chaosSettle, last.why)
	}
	if last.orphans != 0 || last.missing != 0 || last.duplicates != 0 {
		t.Errorf("core and slices disagree: orphans=%d missing=%d duplicates=%d; first differences: %s", last.orphans, last.missing, last.duplicates, strings.Join(last.examples, "; "))
	}
	if over != 0 {
		t.Errorf("admitted bookings exceeded %s's capacity %d times; first: %s", chaosSmallCore, over, firstOver)
	}
	if kills.Load() < chaosMinKills {
		t.Errorf("only %d kills, want at least %d", kills.Load(), chaosMinKills)
	}
	if c.creates != chaosSlices {
		t.Errorf("%d slices created, want %d", c.creates, chaosSlices)
	}
	if t.Failed() {
		t.Logf("chaos: logs kept in %s", cs.state)
	} else {
		cs.stack.Stop()
		os.RemoveAll(cs.state)
	}
}

type chaosStack struct {
	stack *devstack.Stack
	state string
}

// startChaosStack starts a stack of the test's own, so that the kills and
// faults do not disturb the shared one: no probes (this test is about
// sessions and admission, and 500 slices' probes would load the machine),
// a short core timeout so that delayed answers arrive after the operator
// gave up, and cores without limits besides the small one.
func startChaosStack(t *testing.T, seed uint64) *chaosStack {
	t.Helper()
	ctx := context.Background()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	state, err := os.MkdirTemp("", "medslice-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	s, err := devstack.Start(ctx, devstack.Options{
		Root: root, BinDir: filepath.Join(root, "bin"), StateDir: state, NoOperator: true, NoUserPlane: true,
		OperatorArgs: []string{"--disable-probes", "--core-timeout", "1s", "--verify-interval", "10s", "--sweep-interval", "5s", "--session-lease", chaosSessionLease.String()},
		EmulatorArgs: []string{"--seed", strconv.FormatUint(seed, 10)},
	})
	if err != nil {
		t.Fatalf("starting the chaos stack: %v (logs in %s)", err, state)
	}
	cs := &chaosStack{stack: s, state: state}
	t.Cleanup(func() {
		if t.Failed() {
			s.Stop()
		}
	})
	for _, name := range []string{devstack.CoreNEF, devstack.CorePCF} {
		if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
			var cn v1alpha1.CoreNetwork
			if err := s.Client.Get(ctx, types.NamespacedName{Name: name}, &cn); err != nil {
				return err
			}
			cn.Spec.Capacity = v1alpha1.CoreCapacity{} // no limit
			return s.Client.Update(ctx, &cn)
		}); err != nil {
			t.Fatal(err)
		}
	}
	small := s.Cores()[0] // NEF: the sweep covers it
	small.Name, small.Spec.Capacity = chaosSmallCore, chaosCapacity
	if err := s.Client.Create(ctx, small); err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Create(ctx, nsObject(chaosNS)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.StartOperator(ctx); err != nil {
		t.Fatal(err)
	}
	return cs
}

func chaosCapacityOf() admission.Capacity { return admission.CapacityOf(chaosCapacity) }

// chaos drives the operations. Only its goroutine uses rng, so a seed
// replays the same operations.
type chaos struct {
	t   *testing.T
	cs  *chaosStack
	rng *rand.Rand

	kinds   map[string]chaosKind // every slice created, by name
	live    []string             // created and not deleted by the test
	devices map[string]int       // next device number of each slice

	ops, creates, modifies, deletes int
	resetAt                         time.Duration
}

// run performs the operations, spread evenly over chaosDuration: every
// slice is created once, about 300 modifications and 250 deletions are
// interleaved at random, and the core forgets everything half-way.
func (c *chaos) run(ctx context.Context, began time.Time) {
	const modifications, deletions = 300, 250
	plan := make([]byte, 0, chaosSlices+modifications+deletions)
	for range chaosSlices {
		plan = append(plan, 'c')
	}
	for range modifications {
		plan = append(plan, 'm')
	}
	for range deletions {
		plan = append(plan, 'd')
	}
	// Creates stay first among themselves; the rest fall anywhere after
	// the first few creates.
	c.rng.Shuffle(len(plan)-10, func(i, j int) { plan[10+i], plan[10+j] = plan[10+j], plan[10+i] })
	step := chaosDuration / time.Duration(len(plan))
	reset := len(plan) / 2
	for i, op := range plan {
		if wait := time.Until(began.Add(time.Duration(i) * step)); wait > 0 {
			time.Sleep(wait)
		}
		if i == reset {
			if err := postAt(c.cs.stack.EmulatorURL, "/admin/v1/reset", ""); err != nil {
				c.t.Errorf("core reset: %v", err)
			}
			c.resetAt = time.Since(began)
		}
		var err error
		switch {
		case op == 'c' || len(c.live) == 0 && c.creates < chaosSlices:
			err = c.create(ctx)
		case op == 'm' && len(c.live) > 0:
			err = c.modify(ctx)
		case op == 'd' && len(c.live) > 0:
			err = c.delete(ctx)
		default:
			continue
		}
		c.ops++
		if err != nil {
			c.t.Errorf("operation %d (%c): %v", i, op, err)
		}
	}
	for c.creates < chaosSlices {
		if err := c.create(ctx); err != nil {
			c.t.Error(err)
		}
	}
}

func (c *chaos) create(ctx context.Context) error {
	i := c.creates
	name := fmt.Sprintf("c-%03d", i)
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: chaosNS, Name: name}}
	s.Spec.Purpose = "chaos test"
	s.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000-5010"}}
	now := time.Now().Truncate(time.Second)
	kind := bulk
	switch r := c.rng.IntN(100); {
	case r < 8:
		kind = active
	case r < 20:
		kind = future
	}
	n := 1
	switch kind {
	case bulk:
		s.Spec.CoreRef = []string{devstack.CoreNEF, devstack.CorePCF}[c.rng.IntN(2)]
		s.Spec.Profile = []string{"surgery-urllc", "surgery-video", "imaging-embb", "iot-mmtc"}[c.rng.IntN(4)]
		n = 1 + c.rng.IntN(3)
	case future:
		// After the test, and overlapping the active bookings, so that
		// surgery pre-empts imaging.
		s.Spec.CoreRef = chaosSmallCore
		s.Spec.Profile = []string{"surgery-urllc", "imaging-embb"}[c.rng.IntN(2)]
		start := now.Add(20*time.Minute + time.Duration(c.rng.IntN(40))*time.Minute)
		s.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.Time{Time: start}, End: metav1.Time{Time: start.Add(time.Duration(30+c.rng.IntN(90)) * time.Minute)},
			LeadTime: &metav1.Duration{Duration: 5 * time.Minute}}
		n = 1 + c.rng.IntN(2)
	case active:
		// Pre-emptable, so not protected: deleting it releases at once.
		s.Spec.CoreRef = chaosSmallCore
		s.Spec.Profile = "imaging-embb"
		s.Spec.Schedule = &v1alpha1.Schedule{Start: metav1.Time{Time: now.Add(-time.Minute)}, End: metav1.Time{Time: now.Add(45 * time.Minute)}}
	}
	for range n {
		s.Spec.Devices = append(s.Spec.Devices, c.device(name, i))
	}
	c.creates++
	if err := c.cs.stack.Client.Create(ctx, s); err != nil {
		return fmt.Errorf("creating %s: %w", name, err)
	}
	c.kinds[name] = kind
	c.live = append(c.live, name)
	return nil
}

// device is the next device of slice i, with a UE address no other device
// of the test has: a core binds a session to a UE, and two slices sharing
// one would share a session.
func (c *chaos) device(name string, i int) v1alpha1.Device {
	d := c.devices[name]
	c.devices[name] = d + 1
	return v1alpha1.Device{Name: fmt.Sprintf("dev-%d", d), IPv4: fmt.Sprintf("10.%d.%d.%d", 60+i/250, i%250, d+1)}
}

// modify makes an edit the API allows: devices added or removed, another
// profile, a moved or longer window, a new purpose. Active bookings only
// get a new purpose, so that what they hold stays what they were admitted
// for.
func (c *chaos) modify(ctx context.Context) error {
	name := c.live[c.rng.IntN(len(c.live))]
	kind := c.kinds[name]
	choice := c.rng.IntN(5)
	shift := time.Duration(c.rng.IntN(61)-30) * time.Minute
	idx, _ := strconv.Atoi(strings.TrimPrefix(name, "c-"))
	c.modifies++
	// The operator writes the slice too (finalizer, status): retry on
	// conflicts for longer than the default 50 ms.
	backoff := wait.Backoff{Steps: 10, Duration: 20 * time.Millisecond, Factor: 2, Jitter: 0.1}
	err := retry.RetryOnConflict(backoff, func() error {
		var s v1alpha1.MedicalSlice
		if err := c.cs.stack.Client.Get(ctx, types.NamespacedName{Namespace: chaosNS, Name: name}, &s); err != nil {
			return err
		}
		switch {
		case kind == active || choice == 4:
			s.Spec.Purpose = fmt.Sprintf("chaos test, edit %d", c.modifies)
		case choice == 0 && len(s.Spec.Devices) < 4:
			s.Spec.Devices = append(s.Spec.Devices, c.device(name, idx))
		case choice <= 1 && len(s.Spec.Devices) > 1:
			s.Spec.Devices = s.Spec.Devices[1:]
		case choice == 2:
			if kind == bulk {
				s.Spec.Profile = []string{"surgery-urllc", "surgery-video", "imaging-embb", "iot-mmtc"}[idx%4]
			} else if s.Spec.Profile == "surgery-urllc" {
				s.Spec.Profile = "imaging-embb"
			} else {
				s.Spec.Profile = "surgery-urllc"
			}
		case kind == future:
			// Moved, or made longer, always after the test.
			sc := s.Spec.Schedule
			start := sc.Start.Add(shift)
			if min := time.Now().Add(20 * time.Minute); start.Before(min) {
				start = min.Truncate(time.Second)
			}
			sc.End = metav1.Time{Time: start.Add(sc.End.Sub(sc.Start.Time) + time.Duration(c.rng.IntN(3))*15*time.Minute)}
			sc.Start = metav1.Time{Time: start}
		default:
			s.Spec.Purpose = fmt.Sprintf("chaos test, edit %d", c.modifies)
		}
		return c.cs.stack.Client.Update(ctx, &s)
	})
	if apierrors.IsNotFound(err) {
		return nil // the operator let it go between the test's delete and now
	}
	return err
}

func (c *chaos) delete(ctx context.Context) error {
	i := c.rng.IntN(len(c.live))
	name := c.live[i]
	c.live = append(c.live[:i], c.live[i+1:]...)
	c.deletes++
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: chaosNS, Name: name}}
	if err := c.cs.stack.Client.Delete(ctx, s); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

// chaosCounts compares the core with what the slices want.
type chaosCounts struct {
	orphans, missing, duplicates  int
	slices, sessions              int
	byKind                        map[chaosKind]int
	admitted, declined, preempted int
	why                           string
	examples                      []string
	ok                            bool
}

func (n chaosCounts) settled() bool {
	return n.ok && n.orphans == 0 && n.missing == 0 && n.duplicates == 0
}

// count reads the slices and the core's sessions. A slice wants one
// session per device when it is open-ended, or when it is a booking that
// is admitted and whose window holds now (wantsSessions); a slice being
// deleted wants none, and the test is not settled while one remains.
func (c *chaos) count(ctx context.Context) chaosCounts {
	out := chaosCounts{byKind: map[chaosKind]int{}}
	var list v1alpha1.MedicalSliceList
	if err := c.cs.stack.Client.List(ctx, &list, client.InNamespace(chaosNS)); err != nil {
		out.why = err.Error()
		return out
	}
	sessions, err := sessionsAt(c.cs.stack.EmulatorURL)
	if err != nil {
		out.why = err.Error()
		return out
	}
	now := time.Now()
	want := map[string]bool{}
	var pending []string
	for _, s := range list.Items {
		out.slices++
		kind := c.kinds[s.Name]
		out.byKind[kind]++
		if !s.DeletionTimestamp.IsZero() {
			pending = append(pending, s.Name+" still being deleted")
			continue
		}
		if kind != bulk {
			a := s.Status.Admission
			switch {
			case a == nil:
				pending = append(pending, s.Name+" not decided")
			case a.Decision == v1alpha1.AdmissionAdmitted:
				out.admitted++
			case a.Decision == v1alpha1.AdmissionPreempted:
				out.preempted++
			default:
				out.declined++
			}
		} else if !meta.IsStatusConditionTrue(s.Status.Conditions, v1alpha1.ConditionProvisioned) {
			pending = append(pending, s.Name+" not provisioned ("+condOf(&s, v1alpha1.ConditionProvisioned)+")")
		}
		if wantsSessions(&s, now) {
			for _, d := range s.Spec.Devices {
				want[string(s.UID)+"/"+d.Name] = true
			}
		}
	}
	out.sessions = len(sessions)
	got := byCorrelation(sessions)
	for k, n := range got {
		if !want[k] {
			out.orphans += n
			out.examples = append(out.examples, "orphan "+k+" "+c.sliceOf(list.Items, k))
			continue
		}
		if n > 1 {
			out.duplicates += n - 1
			out.examples = append(out.examples, fmt.Sprintf("%d sessions for %s %s", n, k, c.sliceOf(list.Items, k)))
		}
	}
	for k := range want {
		if got[k] == 0 {
			out.missing++
			out.examples = append(out.examples, "missing "+k+" "+c.sliceOf(list.Items, k))
		}
	}
	sort.Strings(out.examples)
	if len(out.examples) > 10 {
		out.examples = out.examples[:10]
	}
	sort.Strings(pending)
	if len(pending) > 10 {
		pending = append(pending[:10], fmt.Sprintf("and %d more", len(pending)-10))
	}
	out.ok = len(pending) == 0
	out.why = fmt.Sprintf("orphans=%d missing=%d duplicates=%d; %s", out.orphans, out.missing, out.duplicates, strings.Join(pending, ", "))
	return out
}

// sliceOf names the slice a correlation key points at, for messages.
func (c *chaos) sliceOf(items []v1alpha1.MedicalSlice, key string) string {
	uid, _, _ := strings.Cut(key, "/")
	for _, s := range items {
		if string(s.UID) == uid {
			return fmt.Sprintf("(%s, kind %d, devices %d, Provisioned %s)", s.Name, c.kinds[s.Name], len(s.Spec.Devices), condOf(&s, v1alpha1.ConditionProvisioned))
		}
	}
	return "(no such slice)"
}

func condOf(s *v1alpha1.MedicalSlice, typ string) string {
	if c := meta.FindStatusCondition(s.Status.Conditions, typ); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return "missing"
}

// admissionMonitor watches every persisted state of the slices and checks
// that the bookings their statuses admit fit the small core's capacity
// from that instant on. A watch sees every state the API server stored,
// so no short-lived over-admission goes unseen between two polls.
type admissionMonitor struct {
	cancel   context.CancelFunc
	done     chan struct{}
	events   atomic.Int64
	mu       sync.Mutex
	episodes int
	first    string
}

func watchAdmissions(ctx context.Context, t *testing.T, s *devstack.Stack, capacity admission.Capacity) *admissionMonitor {
	t.Helper()
	wc, err := client.NewWithWatch(s.Config, client.Options{Scheme: scheme.New()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	m := &admissionMonitor{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		over := false
		for ctx.Err() == nil {
			var list v1alpha1.MedicalSliceList
			if err := wc.List(ctx, &list, client.InNamespace(chaosNS)); err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			state := map[types.UID]v1alpha1.MedicalSlice{}
			for _, sl := range list.Items {
				state[sl.UID] = sl
			}
			over = m.check(capacity, state, over)
			w, err := wc.Watch(ctx, &v1alpha1.MedicalSliceList{}, client.InNamespace(chaosNS), &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
			if err != nil {
				continue
			}
			for ev := range w.ResultChan() {
				sl, ok := ev.Object.(*v1alpha1.MedicalSlice)
				if !ok {
					break // an error event: list again
				}
				switch ev.Type {
				case watch.Deleted:
					delete(state, sl.UID)
				default:
					state[sl.UID] = *sl
				}
				m.events.Add(1)
				over = m.check(capacity, state, over)
			}
			w.Stop()
		}
	}()
	return m
}

// check tells whether the admitted bookings over-reserve from now on, and
// counts an episode when they start to.
func (m *admissionMonitor) check(capacity admission.Capacity, state map[types.UID]v1alpha1.MedicalSlice, wasOver bool) bool {
	now := time.Now()
	var admitted []admission.Booking
	for _, s := range state {
		a := s.Status.Admission
		if s.Spec.CoreRef != chaosSmallCore || a == nil || a.Decision != v1alpha1.AdmissionAdmitted || a.From == nil {
			continue
		}
		iv := admission.Interval{Start: a.From.Time}
		if a.Until != nil {
			iv.End = a.Until.Time
		}
		// Only what is still to come: capacity that has passed was checked
		// against the bookings of its own time.
		if !iv.OpenEnded() && !iv.End.After(now) {
			continue
		}
		if iv.Start.Before(now) {
			iv.Start = now
		}
		admitted = append(admitted, admission.Booking{Key: admission.Key{Namespace: s.Namespace, Name: s.Name, UID: s.UID}, Interval: iv,
			Demand: admission.Resources{GBRUplinkKbps: a.Reserved.GBRUplinkKbps, GBRDownlinkKbps: a.Reserved.GBRDownlinkKbps, Sessions: a.Reserved.Sessions}})
	}
	err := admission.Check(capacity, admitted)
	if err != nil && !wasOver {
		m.mu.Lock()
		m.episodes++
		if m.first == "" {
			// What each admitted booking recorded, to tell how it came to be.
			var who []string
			for _, b := range admitted {
				s := state[b.Key.UID]
				a := s.Status.Admission
				who = append(who, fmt.Sprintf("%s (%s, %d devices, generation %d, resourceVersion %s, reserved %d/%d kbit/s from %s, decided %s: %.90s)",
					s.Name, s.Spec.Profile, len(s.Spec.Devices), s.Generation, s.ResourceVersion, a.Reserved.GBRUplinkKbps, a.Reserved.GBRDownlinkKbps,
					a.From.Format("15:04:05"), a.DecidedAt.Format("15:04:05"), a.Message))
			}
			sort.Strings(who)
			m.first = fmt.Sprintf("%s: %v; admitted: %s", now.Format("15:04:05.000"), err, strings.Join(who, "; "))
		}
		m.mu.Unlock()
	}
	return err != nil
}

// stop ends the watch and reports the over-admission episodes.
func (m *admissionMonitor) stop() (int, string) {
	m.cancel()
	<-m.done
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.episodes, m.first
}
