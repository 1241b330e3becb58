package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/testenv"
)

// Integration tests: the commands against the real kube-apiserver
// (internal/testenv), with no operator running. Where the operator would
// answer, the test writes status itself (decide). The control plane starts
// on first use rather than in TestMain, because fuzz workers run this
// package's TestMain too and must not each start etcd and kube-apiserver.

const (
	// requestTimeout bounds one test's calls to the API server.
	requestTimeout = 60 * time.Second
	// operatorPoll is how often the stand-in operator looks for its slice.
	operatorPoll = 20 * time.Millisecond
	// operatorPatience is how long the stand-in operator looks for it.
	operatorPatience = 10 * time.Second
	// testWait is the commands' --wait in these tests.
	testWait = 5 * time.Second
)

var (
	cpOnce sync.Once
	cp     *testenv.Env
	cpErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cp != nil {
		if err := cp.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv: stop:", err)
		}
	}
	os.Exit(code)
}

// controlPlane starts the API server once, with the profiles and cores the
// tests book on. It fails, never skips, when it cannot start.
func controlPlane(t *testing.T) *testenv.Env {
	t.Helper()
	cpOnce.Do(func() {
		if cp, cpErr = testenv.Start(); cpErr == nil {
			cpErr = installFixtures(cp.Client)
		}
	})
	if cpErr != nil {
		t.Fatalf("control plane: %v", cpErr)
	}
	return cp
}

func installFixtures(c client.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	i64 := func(v int64) *int64 { return &v }
	i32 := func(v int32) *int32 { return &v }
	objs := []client.Object{
		&v1alpha1.SliceProfile{ObjectMeta: metav1.ObjectMeta{Name: "surgery-urllc"}, Spec: v1alpha1.SliceProfileSpec{
			ServiceType: v1alpha1.ServiceTypeURLLC,
			QoS: v1alpha1.QoS{FiveQI: i32(82), ARP: &v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable},
				GBRUplinkKbps: i64(20000), GBRDownlinkKbps: i64(20000), MBRUplinkKbps: i64(40000), MBRDownlinkKbps: i64(40000)},
			SNSSAI: v1alpha1.SNSSAI{SST: 2, SD: "000001"}, DNN: "hospital",
			MaxDuration: &metav1.Duration{Duration: 12 * time.Hour},
		}},
		&v1alpha1.SliceProfile{ObjectMeta: metav1.ObjectMeta{Name: "imaging-embb"}, Spec: v1alpha1.SliceProfileSpec{
			ServiceType: v1alpha1.ServiceTypeEMBB,
			QoS: v1alpha1.QoS{FiveQI: i32(4), ARP: &v1alpha1.ARP{PriorityLevel: 8, PreemptCap: v1alpha1.PreemptionNotPreempt, PreemptVuln: v1alpha1.PreemptionPreemptable},
				GBRUplinkKbps: i64(15000), GBRDownlinkKbps: i64(1000)},
			SNSSAI: v1alpha1.SNSSAI{SST: 1}, DNN: "hospital",
		}},
	}
	for _, name := range []string{"campus-core", "story-core", "capacity-core"} {
		objs = append(objs, core(name, v1alpha1.CoreCapacity{GBRUplinkKbps: 100000, GBRDownlinkKbps: 100000, MaxSessions: 10}))
	}
	objs = append(objs, core("small-core", v1alpha1.CoreCapacity{GBRUplinkKbps: 10000, GBRDownlinkKbps: 10000, MaxSessions: 1}))
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			return fmt.Errorf("creating %s: %w", o.GetName(), err)
		}
	}
	return nil
}

func core(name string, capacity v1alpha1.CoreCapacity) *v1alpha1.CoreNetwork {
	return &v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.CoreNetworkSpec{
		API: v1alpha1.CoreAPIPCF, Endpoint: "http://pcf.example:8080", NotificationBaseURL: "http://notify.example:8082", Capacity: capacity,
	}}
}

// testEnv is a command environment on the control plane, in a fresh
// namespace, at the real time (the API server stamps creation with it).
func testEnv(t *testing.T, namespace string) (context.Context, Env, *bytes.Buffer) {
	t.Helper()
	e := controlPlane(t)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	t.Cleanup(cancel)
	if err := e.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatalf("creating namespace %s: %v", namespace, err)
	}
	out := &bytes.Buffer{}
	now := time.Now()
	return ctx, Env{Client: e.Client, Out: out, Now: func() time.Time { return now }, Location: berlin, Namespace: namespace, Output: FormatTable}, out
}

// decide stands in for the operator: once the slice exists at generation
// gen or later, it writes the status set makes, with observedGeneration.
// The returned channel gives its error, or nil, when it is done.
func decide(ctx context.Context, c client.Client, key types.NamespacedName, gen int64, set func(*v1alpha1.MedicalSlice)) <-chan error {
	return decideAfter(ctx, c, key, gen, 0, set)
}

// decideAfter is decide with an operator that takes delay to answer.
func decideAfter(ctx context.Context, c client.Client, key types.NamespacedName, gen int64, delay time.Duration, set func(*v1alpha1.MedicalSlice)) <-chan error {
	done := make(chan error, 1)
	go func() {
		deadline := time.Now().Add(operatorPatience)
		for time.Now().Before(deadline) {
			var s v1alpha1.MedicalSlice
			if err := c.Get(ctx, key, &s); err == nil && s.Generation >= gen {
				time.Sleep(delay)
				done <- retry.RetryOnConflict(retry.DefaultRetry, func() error {
					if err := c.Get(ctx, key, &s); err != nil {
						return err
					}
					set(&s)
					s.Status.ObservedGeneration = s.Generation
					return c.Status().Update(ctx, &s)
				})
				return
			}
			time.Sleep(operatorPoll)
		}
		done <- fmt.Errorf("slice %s never reached generation %d", key, gen)
	}()
	return done
}

func admittedStatus(ul, dl, sessions int64, from, until time.Time, msg string) *v1alpha1.AdmissionStatus {
	a := &v1alpha1.AdmissionStatus{Decision: v1alpha1.AdmissionAdmitted, Message: msg,
		Reserved: v1alpha1.Reservation{GBRUplinkKbps: ul, GBRDownlinkKbps: dl, Sessions: sessions},
		From:     ptr(metav1.NewTime(from))}
	if !until.IsZero() {
		a.Until = ptr(metav1.NewTime(until))
	}
	return a
}

func setCondition(s *v1alpha1.MedicalSlice, typ string, status metav1.ConditionStatus, reason, msg string) {
	for i := range s.Status.Conditions {
		if s.Status.Conditions[i].Type == typ {
			s.Status.Conditions = append(s.Status.Conditions[:i], s.Status.Conditions[i+1:]...)
			break
		}
	}
	s.Status.Conditions = append(s.Status.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg,
		ObservedGeneration: s.Generation, LastTransitionTime: metav1.Now()})
}

func waitOperator(t *testing.T, done <-chan error) {
	t.Helper()
	if err := <-done; err != nil {
		t.Fatalf("stand-in operator: %v", err)
	}
}

// createSlice creates a slice directly, as an engineer's kubectl apply
// would, and writes its status.
func createSlice(t *testing.T, ctx context.Context, c client.Client, s *v1alpha1.MedicalSlice, status *v1alpha1.MedicalSliceStatus) *v1alpha1.MedicalSlice {
	t.Helper()
	if len(s.Spec.Devices) == 0 {
		s.Spec.Devices = []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}}
	}
	if len(s.Spec.Application.Servers) == 0 {
		s.Spec.Application.Servers = []string{"10.100.0.5"}
	}
	if err := c.Create(ctx, s); err != nil {
		t.Fatalf("creating slice %s: %v", s.Name, err)
	}
	if status != nil {
		s.Status = *status
		if err := c.Status().Update(ctx, s); err != nil {
			t.Fatalf("writing status of %s: %v", s.Name, err)
		}
	}
	return s
}

func scheduled(ns, name, profile, coreName string, start, end time.Time, lead time.Duration) *v1alpha1.MedicalSlice {
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.MedicalSliceSpec{Profile: profile, CoreRef: coreName,
			Schedule: &v1alpha1.Schedule{Start: metav1.NewTime(start), End: metav1.NewTime(end)}}}
	if lead > 0 {
		s.Spec.Schedule.LeadTime = &metav1.Duration{Duration: lead}
	}
	return s
}

// TestStoryOnAPIServer follows one operation from booking to cancel: book,
// list, describe, extend (admitted, declined, refused), capacity, cancel.
func TestStoryOnAPIServer(t *testing.T) {
	ctx, env, out := testEnv(t, "story")
	c := env.Client
	start := env.Now().Add(2 * time.Hour).Truncate(time.Minute)
	end := start.Add(4 * time.Hour)
	lead := 15 * time.Minute
	key := types.NamespacedName{Namespace: "story", Name: "or3"}

	// Book: the stand-in operator admits it.
	done := decide(ctx, c, key, 1, func(s *v1alpha1.MedicalSlice) {
		s.Status.Admission = admittedStatus(40000, 40000, 2, start.Add(-lead), end, "admitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions reserved")
		setCondition(s, v1alpha1.ConditionAdmitted, metav1.ConditionTrue, v1alpha1.ReasonAdmitted, "admitted")
		setCondition(s, v1alpha1.ConditionReady, metav1.ConditionFalse, v1alpha1.ReasonScheduled, "provisioning starts at start − lead time")
	})
	err := Book(ctx, env, BookOptions{
		Name: "or3", Profile: "surgery-urllc", Core: "story-core",
		Devices: []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7", IPv6: "2001:db8::7"}, {Name: "console", IPv4: "10.45.0.8"}},
		Servers: []string{"10.100.0.5"}, Ports: []string{"5000-5010"},
		Start: start, End: end, LeadTime: &lead, Purpose: "robotic prostatectomy, OR-3", Wait: testWait,
	})
	waitOperator(t, done)
	if err != nil {
		t.Fatalf("Book: %v", err)
	}
	want := fmt.Sprintf("Booked or3 in namespace story: %s on core story-core, profile surgery-urllc.\nAdmitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions held %s.\n",
		longWindow(start, end, berlin), longWindow(start.Add(-lead), end, berlin))
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("book output (-want +got):\n%s", diff)
	}
	var stored v1alpha1.MedicalSlice
	if err := c.Get(ctx, key, &stored); err != nil {
		t.Fatal(err)
	}
	wantSpec := v1alpha1.MedicalSliceSpec{Profile: "surgery-urllc", CoreRef: "story-core", Purpose: "robotic prostatectomy, OR-3",
		Devices:     []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7", IPv6: "2001:db8::7"}, {Name: "console", IPv4: "10.45.0.8"}},
		Application: v1alpha1.Application{Servers: []string{"10.100.0.5"}, Ports: []string{"5000-5010"}, Protocol: v1alpha1.ProtocolUDP},
		Schedule:    &v1alpha1.Schedule{Start: metav1.NewTime(start), End: metav1.NewTime(end), LeadTime: &metav1.Duration{Duration: lead}}}
	if diff := cmp.Diff(wantSpec, stored.Spec, cmp.Comparer(func(a, b metav1.Time) bool { return a.Equal(&b) })); diff != "" {
		t.Errorf("stored spec (-want +got):\n%s", diff)
	}

	// List.
	out.Reset()
	if err := List(ctx, env, ListOptions{}); err != nil {
		t.Fatalf("List: %v", err)
	}
	row := regexp.MustCompile(`(?m)^or3\s+surgery-urllc\s+story-core\s+` + regexp.QuoteMeta(shortWindow(start, end, env.Now(), berlin)) + `\s+Admitted\s+NO-GO\s+-\s+Scheduled$`)
	if !strings.HasPrefix(out.String(), "NAME ") || !row.MatchString(out.String()) {
		t.Errorf("list output has no row %s:\n%s", row, out)
	}

	// Describe, with an Event about this slice and one about an earlier
	// slice of the same name.
	for i, uid := range []types.UID{stored.UID, "uid-of-an-earlier-or3"} {
		ev := &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Namespace: "story", Name: fmt.Sprintf("or3.%d", i)},
			EventTime: metav1.NewMicroTime(time.Now()), ReportingController: "medslice.io/operator", ReportingInstance: "operator-0",
			Action: "Admit", Reason: "Admitted", Type: corev1.EventTypeNormal, Note: fmt.Sprintf("note %d for or3", i),
			Regarding: corev1.ObjectReference{Kind: "MedicalSlice", APIVersion: v1alpha1.GroupVersion.String(), Namespace: "story", Name: "or3", UID: uid}}
		if err := c.Create(ctx, ev); err != nil {
			t.Fatalf("creating event: %v", err)
		}
	}
	out.Reset()
	if err := Describe(ctx, env, DescribeOptions{Name: "or3"}); err != nil {
		t.Fatalf("Describe: %v", err)
	}
	for _, want := range []string{
		"Purpose:     robotic prostatectomy, OR-3\n",
		"Profile:     surgery-urllc (URLLC)\n",
		"Devices:     robot-arm 10.45.0.7, 2001:db8::7\n             console 10.45.0.8\n",
		"Window:      " + longWindow(start, end, berlin) + ", provisioned from " + start.Add(-lead).In(berlin).Format("15:04") + " (lead time 15m)\n",
		"GO:          NO-GO: Scheduled: provisioning starts at start − lead time\n",
		"Admission:   Admitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions held " + longWindow(start.Add(-lead), end, berlin) + "\n",
		"note 0 for or3",
		"medslice.io/operator",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("describe output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out.String(), "note 1 for or3") {
		t.Errorf("describe shows an Event about an earlier slice of the same name:\n%s", out)
	}

	// Extend by 30m: admitted.
	newEnd := end.Add(30 * time.Minute)
	done = decide(ctx, c, key, 2, func(s *v1alpha1.MedicalSlice) {
		s.Status.Admission = admittedStatus(40000, 40000, 2, start.Add(-lead), newEnd, "admitted")
	})
	out.Reset()
	err = Extend(ctx, env, ExtendOptions{Name: "or3", By: 30 * time.Minute, Wait: testWait})
	waitOperator(t, done)
	if err != nil {
		t.Fatalf("Extend: %v", err)
	}
	want = fmt.Sprintf("Extended or3: ends %s instead of %s.\nAdmitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions held %s.\n",
		longMoment(newEnd, berlin), longMoment(end, berlin), longWindow(start.Add(-lead), newEnd, berlin))
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("extend output (-want +got):\n%s", diff)
	}
	if err := c.Get(ctx, key, &stored); err != nil || !stored.Spec.Schedule.End.Time.Equal(newEnd) || stored.Generation != 2 {
		t.Fatalf("after extend: end %v generation %d (%v), want %v generation 2", stored.Spec.Schedule.End, stored.Generation, err, newEnd)
	}

	// Extend by 1h more: the operator declines the extension; the slice
	// keeps what it held.
	declineMsg := "extension refused: uplink GBR 80 of 100 Mbps reserved by 2 bookings; this needs 40 Mbps; still admitted for the booked window"
	done = decide(ctx, c, key, 3, func(s *v1alpha1.MedicalSlice) {
		s.Status.Admission = admittedStatus(40000, 40000, 2, start.Add(-lead), newEnd, declineMsg)
		s.Status.Admission.ExtensionDeclined = true
	})
	out.Reset()
	err = Extend(ctx, env, ExtendOptions{Name: "or3", Until: newEnd.Add(time.Hour), Wait: testWait})
	waitOperator(t, done)
	var notAdmitted *NotAdmittedError
	if !errors.As(err, &notAdmitted) {
		t.Fatalf("Extend declined: got %v, want a NotAdmittedError", err)
	}
	if want := fmt.Sprintf(`the extension of slice "or3" is not admitted; it stays guaranteed until %s`, longMoment(newEnd, berlin)); err.Error() != want {
		t.Errorf("Extend declined error\n got: %s\nwant: %s", err, want)
	}
	if !strings.HasSuffix(out.String(), "Declined: "+declineMsg+"\n") {
		t.Errorf("extend declined output:\n%s", out)
	}

	// Extend again while the status still says the last extension was
	// declined: that stale answer is not this extension's. The operator
	// answers late and admits it.
	lastEnd := newEnd.Add(75 * time.Minute)
	done = decideAfter(ctx, c, key, 4, time.Second, func(s *v1alpha1.MedicalSlice) {
		s.Status.Admission = admittedStatus(40000, 40000, 2, start.Add(-lead), lastEnd, "admitted")
	})
	out.Reset()
	err = Extend(ctx, env, ExtendOptions{Name: "or3", By: 15 * time.Minute, Wait: testWait})
	waitOperator(t, done)
	if err != nil {
		t.Fatalf("Extend after a declined extension: %v", err)
	}
	if want := fmt.Sprintf("Admitted: uplink GBR 40 Mbps, downlink GBR 40 Mbps, 2 sessions held %s.\n", longWindow(start.Add(-lead), lastEnd, berlin)); !strings.HasSuffix(out.String(), want) {
		t.Errorf("extend after a declined extension:\n%s\nwant suffix %q", out, want)
	}

	// Refused here, before anything is sent.
	gen := int64(4)
	for _, tt := range []struct {
		o    ExtendOptions
		want string
	}{
		{ExtendOptions{Name: "or3", Until: start.Add(time.Hour)}, fmt.Sprintf("the new end %s is not after the current end %s: extend only moves the end later", longMoment(start.Add(time.Hour), berlin), longMoment(lastEnd, berlin))},
		{ExtendOptions{Name: "or3", By: 7 * time.Hour}, fmt.Sprintf("the window would last 12h45m; profile surgery-urllc allows at most 12h: extend to %s at the latest", longMoment(start.Add(12*time.Hour), berlin))},
		{ExtendOptions{Name: "or33", By: time.Hour}, `slice "or33" not found in namespace story: did you mean or3?`},
	} {
		if err := Extend(ctx, env, tt.o); err == nil || err.Error() != tt.want {
			t.Errorf("Extend(%+v)\n got: %v\nwant: %s", tt.o, err, tt.want)
		}
	}
	if err := c.Get(ctx, key, &stored); err != nil || stored.Generation != gen {
		t.Errorf("a refused extension changed the slice: generation %d (%v), want %d", stored.Generation, err, gen)
	}

	// Capacity of the core: the reservation, from status.
	out.Reset()
	env.Output = FormatJSON
	if err := Capacity(ctx, env, CapacityOptions{Core: "story-core"}); err != nil {
		t.Fatalf("Capacity: %v", err)
	}
	var timelines []CoreTimeline
	if err := json.Unmarshal(out.Bytes(), &timelines); err != nil {
		t.Fatalf("capacity -o json: %v\n%s", err, out)
	}
	now := env.Now()
	wantTimelines := []CoreTimeline{{Core: "story-core", Capacity: v1alpha1.CoreCapacity{GBRUplinkKbps: 100000, GBRDownlinkKbps: 100000, MaxSessions: 10},
		From: now, To: now.Add(24 * time.Hour), Segments: []TimelineSegment{
			{From: now, To: start.Add(-lead)},
			{From: start.Add(-lead), To: lastEnd, Reserved: v1alpha1.Reservation{GBRUplinkKbps: 40000, GBRDownlinkKbps: 40000, Sessions: 2}, Bookings: []string{"story/or3"}},
			{From: lastEnd, To: now.Add(24 * time.Hour)},
		}}}
	if diff := cmp.Diff(wantTimelines, timelines, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("capacity (-want +got):\n%s", diff)
	}
	env.Output = FormatTable

	// Cancel: not yet active, so no --force is needed.
	out.Reset()
	if err := Cancel(ctx, env, CancelOptions{Name: "or3"}); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	want = fmt.Sprintf("Deleted or3: the booking %s is cancelled and the capacity it held is free again.\n", longWindow(start, lastEnd, berlin))
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("cancel output (-want +got):\n%s", diff)
	}
	if err := c.Get(ctx, key, &stored); !apierrors.IsNotFound(err) {
		t.Errorf("after cancel: Get = %v, want not found", err)
	}
}

// TestCancelProtectsActiveSurgicalSlices protects DESIGN §6: an active
// surgical slice is not deleted without --force, and --force sets the
// force-release annotation before it deletes.
func TestCancelProtectsActiveSurgicalSlices(t *testing.T) {
	ctx, env, out := testEnv(t, "protect")
	c := env.Client
	now := env.Now()
	// hold keeps a deleted slice visible, as the operator's finalizer does.
	const hold = "medslice.io/test-hold"
	admittedFor := func(from, until time.Time) *v1alpha1.MedicalSliceStatus {
		return &v1alpha1.MedicalSliceStatus{Admission: admittedStatus(20000, 20000, 1, from, until, "admitted")}
	}
	mk := func(name, profile string, start, end time.Time, lead time.Duration) *v1alpha1.MedicalSlice {
		s := scheduled("protect", name, profile, "campus-core", start, end, lead)
		s.Finalizers = []string{hold}
		return createSlice(t, ctx, c, s, admittedFor(start.Add(-lead), end))
	}
	running := mk("running", "surgery-urllc", now.Add(-time.Hour), now.Add(2*time.Hour), 0)
	inLead := mk("in-lead", "surgery-urllc", now.Add(10*time.Minute), now.Add(3*time.Hour), 15*time.Minute)
	unknownProfile := mk("unknown-profile", "cardio-urllc", now.Add(-time.Hour), now.Add(time.Hour), 0)
	imaging := mk("imaging", "imaging-embb", now.Add(-time.Hour), now.Add(time.Hour), 0)
	t.Cleanup(func() {
		for _, s := range []*v1alpha1.MedicalSlice{running, inLead, unknownProfile, imaging} {
			var cur v1alpha1.MedicalSlice
			if c.Get(context.Background(), client.ObjectKeyFromObject(s), &cur) == nil {
				cur.Finalizers = nil
				_ = c.Update(context.Background(), &cur)
			}
		}
	})

	refusal := func(s *v1alpha1.MedicalSlice, what string) string {
		sc := s.Spec.Schedule
		return fmt.Sprintf(`slice %q is an active surgical slice (%s, %s): cancelling would tear down its guarantee before %s; if that is intended, add --force`,
			s.Name, longWindow(sc.Start.Time, sc.End.Time, berlin), what, longMoment(sc.End.Time, berlin))
	}
	for _, tt := range []struct {
		s    *v1alpha1.MedicalSlice
		want string
	}{
		{running, refusal(running, "profile surgery-urllc")},
		{inLead, refusal(inLead, "profile surgery-urllc")},
		{unknownProfile, refusal(unknownProfile, "profile cardio-urllc, which cannot be read, so it counts as surgical")},
	} {
		err := Cancel(ctx, env, CancelOptions{Name: tt.s.Name})
		if err == nil || err.Error() != tt.want {
			t.Errorf("Cancel(%s)\n got: %v\nwant: %s", tt.s.Name, err, tt.want)
		}
		var cur v1alpha1.MedicalSlice
		if err := c.Get(ctx, client.ObjectKeyFromObject(tt.s), &cur); err != nil || cur.DeletionTimestamp != nil || cur.Annotations[v1alpha1.ForceReleaseAnnotation] != "" {
			t.Errorf("refused Cancel(%s) touched the slice: %v, deleting %v, annotations %v", tt.s.Name, err, cur.DeletionTimestamp, cur.Annotations)
		}
	}
	if out.Len() != 0 {
		t.Errorf("refusals wrote output: %q", out)
	}

	// A pre-emptable imaging slice is not protected.
	if err := Cancel(ctx, env, CancelOptions{Name: "imaging"}); err != nil {
		t.Errorf("Cancel(imaging): %v", err)
	}

	// --force: annotated first, then deleted.
	out.Reset()
	if err := Cancel(ctx, env, CancelOptions{Name: "running", Force: true}); err != nil {
		t.Fatalf("Cancel --force: %v", err)
	}
	want := fmt.Sprintf("Set medslice.io/force-release=true on running and deleted it: the operator releases its core sessions now, before the booked end %s.\n", longMoment(running.Spec.Schedule.End.Time, berlin))
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("cancel --force output (-want +got):\n%s", diff)
	}
	var cur v1alpha1.MedicalSlice
	if err := c.Get(ctx, client.ObjectKeyFromObject(running), &cur); err != nil {
		t.Fatal(err)
	}
	if cur.Annotations[v1alpha1.ForceReleaseAnnotation] != "true" || cur.DeletionTimestamp == nil {
		t.Errorf("after cancel --force: annotations %v, deleting %v; want the annotation and a deletion", cur.Annotations, cur.DeletionTimestamp)
	}

	// A plain delete the operator holds (as kubectl delete would leave
	// it), then cancel: still refused, and --force still annotates.
	if err := c.Delete(ctx, inLead); err != nil {
		t.Fatal(err)
	}
	if err := Cancel(ctx, env, CancelOptions{Name: "in-lead"}); err == nil {
		t.Error("Cancel of an active surgical slice being deleted: want a refusal")
	}
	if err := Cancel(ctx, env, CancelOptions{Name: "in-lead", Force: true}); err != nil {
		t.Errorf("Cancel --force of a slice being deleted: %v", err)
	}
	if err := c.Get(ctx, client.ObjectKeyFromObject(inLead), &cur); err != nil || cur.Annotations[v1alpha1.ForceReleaseAnnotation] != "true" {
		t.Errorf("after cancel --force of a slice being deleted: %v, annotations %v", err, cur.Annotations)
	}
}

// TestBookRefusalsOnAPIServer protects the refusals that need the API
// server's knowledge (profiles, cores, existing slices) and the three
// outcomes of waiting: admitted (above), declined, pending.
func TestBookRefusalsOnAPIServer(t *testing.T) {
	ctx, env, out := testEnv(t, "refuse")
	c := env.Client
	start := env.Now().Add(24 * time.Hour).Truncate(time.Minute)
	valid := func(name string) BookOptions {
		return BookOptions{Name: name, Profile: "surgery-urllc", Core: "campus-core",
			Devices: []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}}, Servers: []string{"10.100.0.5"},
			Start: start, End: start.Add(4 * time.Hour), Wait: 300 * time.Millisecond}
	}
	createSlice(t, ctx, c, scheduled("refuse", "dup", "surgery-urllc", "campus-core", start, start.Add(time.Hour), 0), nil)

	tests := []struct {
		name string
		edit func(*BookOptions)
		env  func(*Env)
		want string
	}{
		{"profile typo", func(o *BookOptions) { o.Profile = "surgery-urlc" }, nil, `unknown profile "surgery-urlc": did you mean surgery-urllc?`},
		{"unknown profile", func(o *BookOptions) { o.Profile = "cardio" }, nil, `unknown profile "cardio": want one of imaging-embb, surgery-urllc`},
		{"unknown core", func(o *BookOptions) { o.Core = "cardio-core" }, nil, `unknown core "cardio-core": want one of campus-core, capacity-core, small-core, story-core`},
		{"core typo", func(o *BookOptions) { o.Core = "campus-cor" }, nil, `unknown core "campus-cor": did you mean campus-core?`},
		{"longer than the profile allows", func(o *BookOptions) { o.End = start.Add(13 * time.Hour) }, nil,
			fmt.Sprintf("the window %s lasts 13h; profile surgery-urllc allows at most 12h: shorten it", longWindow(start, start.Add(13*time.Hour), berlin))},
		{"more than the core can ever hold", func(o *BookOptions) { o.Core = "small-core" }, nil,
			"this booking needs uplink GBR 20 Mbps, more than core small-core can ever hold (10 Mbps): fewer devices or another core"},
		{"sessions beyond the core", func(o *BookOptions) {
			o.Core, o.Profile = "small-core", "imaging-embb"
			o.Devices = append(o.Devices, v1alpha1.Device{Name: "probe", IPv4: "10.45.0.9"})
		}, nil, "this booking needs uplink GBR 30 Mbps, more than core small-core can ever hold (10 Mbps): fewer devices or another core"},
		{"already exists", func(o *BookOptions) { o.Name = "dup" }, nil,
			`slice "dup" already exists in namespace refuse: choose another name, or extend it with kubectl medslice extend dup`},
		{"no such namespace", nil, func(e *Env) { e.Namespace = "nowhere" },
			`cannot create slice "x" in namespace nowhere: namespaces "nowhere" not found`},
		{"start in the past", func(o *BookOptions) { o.Start, o.End = start.Add(-48*time.Hour), start.Add(-47*time.Hour) }, nil,
			fmt.Sprintf("--start %s is in the past (now is %s): book from now on, e.g. --start now", longMoment(start.Add(-48*time.Hour), berlin), longMoment(env.Now(), berlin))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := valid("x")
			if tt.edit != nil {
				tt.edit(&o)
			}
			e := env
			if tt.env != nil {
				tt.env(&e)
			}
			err := Book(ctx, e, o)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Book\n got: %v\nwant: %s", err, tt.want)
			}
			if o.Name == "x" {
				var s v1alpha1.MedicalSlice
				if err := c.Get(ctx, types.NamespacedName{Namespace: "refuse", Name: "x"}, &s); !apierrors.IsNotFound(err) {
					t.Errorf("a refused booking was created: %v", err)
				}
			}
		})
	}

	// The API server's own refusal, word for word.
	bad := scheduled("refuse", "backwards", "surgery-urllc", "campus-core", start, start.Add(-time.Hour), 0)
	bad.Spec.Devices = []v1alpha1.Device{{Name: "robot-arm", IPv4: "10.45.0.7"}}
	bad.Spec.Application.Servers = []string{"10.100.0.5"}
	err := c.Create(ctx, bad)
	if err == nil {
		t.Fatal("the API server accepted end before start")
	}
	got := apiError(err, `create slice "backwards" in namespace refuse`).Error()
	if !strings.HasPrefix(got, `the API server refused to create slice "backwards" in namespace refuse: `) ||
		!strings.Contains(got, "schedule.end must be after schedule.start") || strings.Contains(got, "\n") ||
		!strings.HasSuffix(got, oneLine(err.Error())) {
		t.Errorf("apiError of a CEL refusal: %s", got)
	}

	// Dry run on the server: valid, nothing created.
	out.Reset()
	o := valid("dry")
	o.DryRun = DryRunServer
	if err := Book(ctx, env, o); err != nil {
		t.Fatalf("Book --dry-run: %v", err)
	}
	want := fmt.Sprintf("Dry run: slice dry is valid (validated by the API server); nothing was created.\nWindow: %s\nAsks core campus-core for: uplink GBR 20 Mbps, downlink GBR 20 Mbps, 1 session\n", longWindow(start, start.Add(4*time.Hour), berlin))
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("dry run output (-want +got):\n%s", diff)
	}
	var s v1alpha1.MedicalSlice
	if err := c.Get(ctx, types.NamespacedName{Namespace: "refuse", Name: "dry"}, &s); !apierrors.IsNotFound(err) {
		t.Errorf("dry run created the slice: %v", err)
	}

	// Declined by the operator: the slice stays booked, the command fails.
	out.Reset()
	declined := "declined: uplink GBR 100 of 100 Mbps reserved 08:00–12:00 by 5 bookings; this needs 20 Mbps. It is admitted as soon as capacity frees; or choose another window, fewer devices or another core."
	done := decide(ctx, c, types.NamespacedName{Namespace: "refuse", Name: "full"}, 1, func(s *v1alpha1.MedicalSlice) {
		s.Status.Admission = &v1alpha1.AdmissionStatus{Decision: v1alpha1.AdmissionDeclined, Message: declined}
	})
	o = valid("full")
	o.Wait = testWait
	err = Book(ctx, env, o)
	waitOperator(t, done)
	if err == nil || err.Error() != `slice "full" is booked but not admitted (Declined)` {
		t.Errorf("Book declined: %v", err)
	}
	if !strings.HasSuffix(out.String(), "\nDeclined: "+declined+"\n") {
		t.Errorf("book declined output:\n%s", out)
	}

	// No operator: pending after the wait.
	out.Reset()
	if err := Book(ctx, env, valid("pending")); err != nil {
		t.Fatalf("Book pending: %v", err)
	}
	if !strings.HasSuffix(out.String(), "\nPending: no admission decision within 300ms; see kubectl medslice describe pending\n") {
		t.Errorf("book pending output:\n%s", out)
	}
}

// TestCapacityAndListOnAPIServer protects the capacity timeline across
// namespaces (only admitted reservations count) and list's -A and -o json.
func TestCapacityAndListOnAPIServer(t *testing.T) {
	ctx, env, out := testEnv(t, "cap-a")
	c := env.Client
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "cap-b"}}); err != nil {
		t.Fatal(err)
	}
	now := env.Now()
	// The API server keeps whole seconds.
	h := func(n float64) time.Time { return now.Truncate(time.Second).Add(time.Duration(n * float64(time.Hour))) }
	createSlice(t, ctx, c, scheduled("cap-a", "or1", "surgery-urllc", "capacity-core", h(1), h(5), 0),
		&v1alpha1.MedicalSliceStatus{Admission: admittedStatus(40000, 40000, 2, h(1), h(5), "admitted")})
	createSlice(t, ctx, c, scheduled("cap-b", "us1", "imaging-embb", "capacity-core", h(3), h(6), 0),
		&v1alpha1.MedicalSliceStatus{Admission: admittedStatus(15000, 1000, 1, h(3), h(6), "admitted")})
	createSlice(t, ctx, c, scheduled("cap-a", "or2", "surgery-urllc", "capacity-core", h(2), h(4), 0),
		&v1alpha1.MedicalSliceStatus{Admission: &v1alpha1.AdmissionStatus{Decision: v1alpha1.AdmissionDeclined, Message: "declined"}})
	open := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "cap-b", Name: "vitals"}, Spec: v1alpha1.MedicalSliceSpec{Profile: "imaging-embb", CoreRef: "capacity-core"}}
	createSlice(t, ctx, c, open, &v1alpha1.MedicalSliceStatus{Admission: admittedStatus(0, 0, 4, h(-1), time.Time{}, "admitted")})

	env.Output = FormatJSON
	if err := Capacity(ctx, env, CapacityOptions{Core: "capacity-core", To: h(8)}); err != nil {
		t.Fatalf("Capacity: %v", err)
	}
	var got []CoreTimeline
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("capacity -o json: %v\n%s", err, out)
	}
	res := func(ul, dl, n int64) v1alpha1.Reservation {
		return v1alpha1.Reservation{GBRUplinkKbps: ul, GBRDownlinkKbps: dl, Sessions: n}
	}
	want := []CoreTimeline{{Core: "capacity-core", Capacity: v1alpha1.CoreCapacity{GBRUplinkKbps: 100000, GBRDownlinkKbps: 100000, MaxSessions: 10},
		From: now, To: h(8), Segments: []TimelineSegment{
			{From: now, To: h(1), Reserved: res(0, 0, 4), Bookings: []string{"cap-b/vitals"}},
			{From: h(1), To: h(3), Reserved: res(40000, 40000, 6), Bookings: []string{"cap-a/or1", "cap-b/vitals"}},
			{From: h(3), To: h(5), Reserved: res(55000, 41000, 7), Bookings: []string{"cap-a/or1", "cap-b/us1", "cap-b/vitals"}},
			{From: h(5), To: h(6), Reserved: res(15000, 1000, 5), Bookings: []string{"cap-b/us1", "cap-b/vitals"}},
			{From: h(6), To: h(8), Reserved: res(0, 0, 4), Bookings: []string{"cap-b/vitals"}},
		}}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("capacity (-want +got):\n%s", diff)
	}

	// The table: every core, capacity-core among them.
	out.Reset()
	env.Output = FormatTable
	if err := Capacity(ctx, env, CapacityOptions{}); err != nil {
		t.Fatalf("Capacity of every core: %v", err)
	}
	for _, want := range []string{"Core campus-core: capacity uplink GBR 100 Mbps", "Core capacity-core: capacity", "Core small-core: capacity uplink GBR 10 Mbps, downlink GBR 10 Mbps, 1 session",
		"55/100 Mbps   41/100 Mbps   7/10       cap-a/or1, cap-b/us1, cap-b/vitals\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("capacity table lacks %q:\n%s", want, out)
		}
	}
	if err := Capacity(ctx, env, CapacityOptions{Core: "capacity-cor"}); err == nil || err.Error() != `unknown core "capacity-cor": did you mean capacity-core?` {
		t.Errorf("Capacity of an unknown core: %v", err)
	}

	// list -A -o json: apiVersion and kind set, managedFields gone.
	out.Reset()
	env.Output = FormatJSON
	if err := List(ctx, env, ListOptions{AllNamespaces: true}); err != nil {
		t.Fatalf("List -A: %v", err)
	}
	var list v1alpha1.MedicalSliceList
	if err := json.Unmarshal(out.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "MedicalSliceList" || list.APIVersion != "medslice.io/v1alpha1" {
		t.Errorf("list -o json: kind %q apiVersion %q", list.Kind, list.APIVersion)
	}
	names := map[string]bool{}
	for _, s := range list.Items {
		names[s.Namespace+"/"+s.Name] = true
		if s.Kind != "MedicalSlice" || len(s.ManagedFields) > 0 {
			t.Errorf("list item %s: kind %q, %d managedFields", s.Name, s.Kind, len(s.ManagedFields))
		}
	}
	for _, want := range []string{"cap-a/or1", "cap-a/or2", "cap-b/us1", "cap-b/vitals"} {
		if !names[want] {
			t.Errorf("list -A lacks %s", want)
		}
	}

	// list -A as a table names the namespace; list in an empty namespace says so.
	out.Reset()
	env.Output = FormatTable
	if err := List(ctx, env, ListOptions{AllNamespaces: true}); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^NAMESPACE\s+NAME\s+PROFILE\s+CORE\s+WINDOW\s+ADMISSION\s+GO\s+RTT-P99\s+REASON$`).MatchString(out.String()) ||
		!regexp.MustCompile(`(?m)^cap-b\s+vitals\s+imaging-embb\s+capacity-core\s+open-ended\s+Admitted\s+NO-GO\s+-\s+NoReadyCondition$`).MatchString(out.String()) {
		t.Errorf("list -A table:\n%s", out)
	}
	out.Reset()
	env.Namespace = "default"
	if err := List(ctx, env, ListOptions{}); err != nil || out.String() != "No slices in namespace default.\n" {
		t.Errorf("list in an empty namespace: %v, %q", err, out)
	}
}
