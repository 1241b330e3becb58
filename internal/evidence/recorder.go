package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/probe"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/sla"
)

// Probes are the probes the Recorder decorates: what the reconciler uses
// (controllers.Probes) and the closed windows of each device.
// *probe.Manager is one.
type Probes interface {
	Ensure(key types.NamespacedName, spec probe.Spec) error
	Reset(key types.NamespacedName)
	Stop(key types.NamespacedName)
	Verdict(key types.NamespacedName) (sla.Verdict, bool)
	Rollups(key types.NamespacedName, device string) []sla.WindowRollup
}

var _ Probes = (*probe.Manager)(nil)

// Defaults and bounds.
const (
	// DefaultInterval is the default checkpoint interval: the most
	// evidence an operator crash loses.
	DefaultInterval = 10 * time.Second
	// maxHarvest bounds the time between two harvests of the trackers,
	// which keep a bounded history (600 windows in probe.Manager).
	maxHarvest = time.Minute
	// restoreWait bounds how long the reconciler's first calls wait for
	// the checkpoints to be loaded at start.
	restoreWait = 30 * time.Second
	// minClaim is the least time a restored ledger waits for its slice to
	// be probed again before it is sealed as it is.
	minClaim = time.Minute
	// apiTimeout bounds one cycle's calls for one slice.
	apiTimeout = 30 * time.Second
	// parallelism bounds the checkpoint writes in flight.
	parallelism = 4
)

// Recorder keeps the evidence of every probed slice and seals it into
// SLAReports (DESIGN §7). It decorates the reconciler's probes: Ensure,
// Reset and Stop take the probes' closed windows before the probes are
// restarted or stopped (which discards them), and Stop closes the report
// period. As a manager.Runnable (leader only) it loads the checkpoints at
// start, harvests the windows and writes checkpoints every Interval, and
// seals closed periods. See the package documentation.
type Recorder struct {
	// Probes are the probes decorated.
	Probes Probes
	// Client creates SLAReports and writes checkpoints; it reads
	// MedicalSlices (the manager's cached client does).
	Client client.Client
	// Reader reads checkpoint ConfigMaps, uncached (the manager's API reader).
	Reader client.Reader
	// Namespace holds the checkpoints: the operator's.
	Namespace string
	// Signer seals reports and signs checkpoints; Keys verify checkpoints
	// (the Signer's own key is always trusted).
	Signer report.Signer
	Keys   report.KeyRing
	Clock  clock.WithTicker
	// Location is the hospital's time zone: open-ended slices are sealed
	// at its midnight. Nil means UTC.
	Location *time.Location
	// Interval is the checkpoint interval; zero means DefaultInterval.
	Interval time.Duration
	Log      logr.Logger

	once     sync.Once
	mu       sync.Mutex
	slices   map[types.NamespacedName]*tracked
	restored chan struct{}
	gaveUp   atomic.Bool
	wake     chan struct{}
	store    *store
}

// tracked is what the Recorder holds of one slice.
type tracked struct {
	ref sliceRef
	// live is true between Ensure and Stop: the probes run.
	live  bool
	spec  probe.Spec
	feeds map[string]*feed
	// schedEnd is the booked end of a scheduled slice, zero for an
	// open-ended one.
	schedEnd time.Time
	ledger   *ledger
	// restoredAt is when the ledger was loaded from a checkpoint, until
	// the slice is probed again (or stopped).
	restoredAt time.Time
	// written is when the checkpoint was last written; rv its
	// ConfigMap's resourceVersion; stored whether it exists.
	written time.Time
	rv      string
	stored  bool
}

var _ interface {
	Start(context.Context) error
	NeedLeaderElection() bool
} = (*Recorder)(nil)

func (r *Recorder) init() {
	r.once.Do(func() {
		r.slices = map[types.NamespacedName]*tracked{}
		r.restored = make(chan struct{})
		r.wake = make(chan struct{}, 1)
		r.store = &store{reader: r.Reader, writer: r.Client, namespace: r.Namespace}
		if r.Interval <= 0 {
			r.Interval = DefaultInterval
		}
		if r.Location == nil {
			r.Location = time.UTC
		}
		if r.Keys == nil {
			r.Keys = report.KeyRing{}
		}
		if r.Signer != nil {
			r.Keys.Add(r.Signer.Public())
		}
	})
}

// NeedLeaderElection: evidence is kept where the probes run, on the leader.
func (r *Recorder) NeedLeaderElection() bool { return true }

// Start loads the checkpoints, then harvests, checkpoints and seals until
// ctx ends; at the end it writes a last checkpoint saying it stopped.
func (r *Recorder) Start(ctx context.Context) error {
	r.init()
	if r.Signer == nil {
		return errors.New("evidence: no signer")
	}
	// Load the checkpoints before anything else; if the API server will
	// not list them for a while, go on recording and sealing, and load
	// them at a later cycle (what was restored late is sealed on its own).
	deadline := r.Clock.Now().Add(restoreWait)
	for {
		err := r.restore(ctx)
		if err == nil {
			break
		}
		r.Log.Error(err, "loading evidence checkpoints; retrying")
		if r.Clock.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.Clock.After(2 * time.Second):
		}
	}
	tick := r.Clock.NewTicker(min(r.Interval, maxHarvest))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			r.cycle(final, true)
			cancel()
			return nil
		case <-tick.C():
		case <-r.wake:
		}
		if err := r.restore(ctx); err != nil {
			r.Log.Error(err, "loading evidence checkpoints; retrying at the next cycle")
		}
		r.cycle(ctx, false)
	}
}

// waitRestored holds the reconciler's first calls until the checkpoints
// are loaded, so that a slice's restored evidence is continued rather
// than started anew. After restoreWait it stops waiting for good.
func (r *Recorder) waitRestored() {
	r.init()
	if r.gaveUp.Load() {
		return
	}
	select {
	case <-r.restored:
	case <-time.After(restoreWait):
		r.gaveUp.Store(true)
		r.Log.Info("evidence checkpoints not loaded yet; recording without them")
	}
}

// Ensure starts or updates the slice's probes, taking their windows first
// when the change restarts them.
func (r *Recorder) Ensure(key types.NamespacedName, spec probe.Spec) error {
	r.waitRestored()
	r.mu.Lock()
	t := r.slices[key]
	fresh := t == nil || !t.live
	r.mu.Unlock()
	var ref sliceRef
	var schedEnd time.Time
	if fresh {
		var err error
		if ref, schedEnd, err = r.lookup(key); err != nil {
			r.Log.Error(err, "no evidence can be kept for this slice for now", "slice", key)
			return r.Probes.Ensure(key, spec)
		}
	}
	now := r.Clock.Now()
	r.mu.Lock()
	t = r.slices[key]
	switch {
	case t == nil:
		t = &tracked{ref: ref, schedEnd: schedEnd, ledger: &ledger{}, feeds: map[string]*feed{}}
		r.slices[key] = t
	case !t.live:
		r.claim(t, ref, schedEnd, now)
	case !specEqual(t.spec, spec):
		// The probes restart: take what they closed first.
		r.harvest(t, now, true)
		if t.spec.SLA != spec.SLA {
			t.ledger.close(now, "the slice's SLA targets changed: a new report starts", false)
		} else {
			t.ledger.Restart = &restartMark{From: t.ledger.Until, LostUntil: t.ledger.Until,
				Down: "probes restarted: the slice's probe targets changed"}
		}
		t.feeds = map[string]*feed{}
	}
	t.live = true
	t.spec = spec
	for _, tg := range spec.Targets {
		if t.feeds[tg.Device] == nil {
			t.feeds[tg.Device] = &feed{added: now}
		}
	}
	for d := range t.feeds {
		if !slices.ContainsFunc(spec.Targets, func(tg probe.Target) bool { return tg.Device == d }) {
			delete(t.feeds, d)
		}
	}
	r.mu.Unlock()
	return r.Probes.Ensure(key, spec)
}

// claim continues a ledger that is not live (restored, or stopped and not
// yet sealed) for the slice ref. A ledger of an earlier slice of the same
// name is closed and kept for sealing under that slice.
func (r *Recorder) claim(t *tracked, ref sliceRef, schedEnd time.Time, now time.Time) {
	if t.ref.UID != "" && t.ref.UID != ref.UID {
		old := t.ref
		end := t.ledger.Until
		if m := t.ledger.Restart; m != nil {
			end = maxTime(end, m.LostUntil)
		}
		t.ledger.close(maxTime(end, now), "", false)
		for _, p := range t.ledger.Periods {
			if p.Slice == nil {
				p.Slice = &old
			}
		}
		t.ledger = &ledger{Periods: t.ledger.Periods, dirty: true}
	}
	t.ref, t.schedEnd = ref, schedEnd
	t.restoredAt = time.Time{}
	t.feeds = map[string]*feed{}
}

// Reset restarts a slice's verification (its core session was lost),
// taking the windows its probes closed first.
func (r *Recorder) Reset(key types.NamespacedName) {
	r.init()
	r.mu.Lock()
	if t := r.slices[key]; t != nil && t.live {
		now := r.Clock.Now()
		r.harvest(t, now, true)
		t.ledger.Restart = &restartMark{From: t.ledger.Until, LostUntil: t.ledger.Until,
			Down: "the core lost a session of the slice: probes restarted and verification started over"}
		for _, f := range t.feeds {
			*f = feed{added: now}
		}
	}
	r.mu.Unlock()
	r.Probes.Reset(key)
}

// Stop ends a slice's probes: its windows are taken, its period is closed
// and sealed soon after.
func (r *Recorder) Stop(key types.NamespacedName) {
	r.waitRestored()
	r.mu.Lock()
	t := r.slices[key]
	if t != nil && (t.live || !t.restoredAt.IsZero()) {
		now := r.Clock.Now()
		if t.live {
			r.harvest(t, now, true)
		}
		t.ledger.close(now, reasonTail, false)
		t.live, t.restoredAt = false, time.Time{}
		t.feeds = map[string]*feed{}
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	r.mu.Unlock()
	r.Probes.Stop(key)
}

// Verdict is the probes' verdict.
func (r *Recorder) Verdict(key types.NamespacedName) (sla.Verdict, bool) {
	return r.Probes.Verdict(key)
}

// harvest takes the windows the slice's trackers closed and puts those
// every device has closed into the ledger; force takes them all (the
// probes are about to restart or stop).
func (r *Recorder) harvest(t *tracked, now time.Time, force bool) {
	key := t.ref.key()
	for d, f := range t.feeds {
		f.take(r.Probes.Rollups(key, d))
	}
	w := t.spec.SLA.Window
	if w <= 0 {
		w = sla.DefaultWindow
	}
	staleAfter := 2*w + sla.DefaultGrace + time.Second
	for _, win := range release(t.feeds, t.ledger.Until, now, staleAfter, force) {
		t.ledger.add(win, t.spec.SLA, t.plan, r.Location)
	}
}

// plan sizes a period: a scheduled slice's ends at its booked end; an
// open-ended slice's is a day, to the next midnight.
func (t *tracked) plan(start time.Time) (time.Time, bool) {
	if t.schedEnd.IsZero() {
		return time.Time{}, true
	}
	return t.schedEnd, false
}

// lookup reads the slice, from the cache.
func (r *Recorder) lookup(key types.NamespacedName) (sliceRef, time.Time, error) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	var s v1alpha1.MedicalSlice
	if err := r.Client.Get(ctx, key, &s); err != nil {
		return sliceRef{}, time.Time{}, fmt.Errorf("reading slice %s: %w", key, err)
	}
	return refOf(&s)
}

func refOf(s *v1alpha1.MedicalSlice) (sliceRef, time.Time, error) {
	spec, err := json.Marshal(s.Spec)
	if err != nil {
		return sliceRef{}, time.Time{}, err
	}
	var end time.Time
	if s.Spec.Schedule != nil {
		end = s.Spec.Schedule.End.Time
	}
	return sliceRef{Namespace: s.Namespace, Name: s.Name, UID: s.UID, Spec: spec}, end, nil
}

// scheduleEnd reads the booked end from a recorded spec.
func scheduleEnd(spec json.RawMessage) time.Time {
	var s v1alpha1.MedicalSliceSpec
	if len(spec) == 0 || json.Unmarshal(spec, &s) != nil || s.Schedule == nil {
		return time.Time{}
	}
	return s.Schedule.End.Time
}

func specEqual(a, b probe.Spec) bool {
	return a.Interval == b.Interval && a.SLA == b.SLA && slices.Equal(a.Targets, b.Targets)
}

// restore loads every checkpoint. A restored ledger with an open period
// gets a restart mark: evidence lost after the checkpoint (at most one
// checkpoint interval, or up to a clean shutdown), then time down, up to
// the next window. A checkpoint that fails verification is not used; the
// slice's next report states the time since the checkpoint was first
// written as a gap instead.
func (r *Recorder) restore(ctx context.Context) error {
	r.init()
	select {
	case <-r.restored:
		return nil
	default:
	}
	cms, err := r.store.list(ctx)
	if err != nil {
		return err
	}
	now := r.Clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range cms {
		cm := &cms[i]
		cp, err := decode(cm, r.Keys)
		if err != nil {
			r.restoreUntrusted(cm, err, now)
			continue
		}
		t := &tracked{ref: cp.Slice, schedEnd: scheduleEnd(cp.Slice.Spec), ledger: cp.Ledger,
			stored: true, rv: cm.ResourceVersion, written: cp.Written, feeds: map[string]*feed{}}
		l := t.ledger
		if l.open() != nil || l.Restart != nil {
			t.restoredAt = now // to be continued when the slice is probed again
		}
		if l.open() != nil && l.Restart == nil {
			at := now.UTC().Format(time.RFC3339)
			m := &restartMark{From: l.Until}
			if !cp.StoppedAt.IsZero() {
				stopped := cp.StoppedAt.UTC().Format(time.RFC3339)
				m.LostUntil = maxTime(l.Until, cp.StoppedAt)
				m.Lost = "operator shut down at " + stopped + ": windows closed since its last checkpoint were lost"
				m.Down = "operator not running: no probes between its shutdown at " + stopped + " and its restart at " + at
			} else {
				// The old process stopped within one interval of its
				// checkpoint, and before this one started.
				bound := max(cp.Interval, l.open().Targets.Window)
				m.LostUntil = maxTime(l.Until, minTime(l.Until.Add(bound), now))
				m.Lost = fmt.Sprintf("operator restarted: windows closed after its checkpoint of %s were lost (at most one checkpoint interval, %s)",
					cp.Written.UTC().Format(time.RFC3339), bound)
				m.Down = "operator not running: no probes from its stop (within one checkpoint interval of " +
					cp.Written.UTC().Format(time.RFC3339) + ") until its restart at " + at
			}
			l.Restart = m
		}
		key := cp.Slice.key()
		if cur := r.slices[key]; cur != nil {
			// Probed again before the checkpoints were loaded: seal what
			// was restored on its own.
			r.retire(cur, t)
			continue
		}
		r.slices[key] = t
	}
	close(r.restored)
	return nil
}

// retire closes the restored ledger old and hands its periods to the live
// tracked t, to be sealed under the slice they are about.
func (r *Recorder) retire(t, old *tracked) {
	end := old.ledger.Until
	if m := old.ledger.Restart; m != nil {
		end = maxTime(end, m.LostUntil)
	}
	old.ledger.close(end, "", false)
	for _, p := range old.ledger.Periods {
		if p.Slice == nil {
			ref := old.ref
			p.Slice = &ref
		}
	}
	t.ledger.Periods = append(old.ledger.Periods, t.ledger.Periods...)
	t.ledger.dirty = true
	t.stored, t.rv = true, old.rv
}

// restoreUntrusted handles a checkpoint that does not verify: its content
// is dropped, and the slice's next period starts with a gap from the
// checkpoint's creation (the API server's time, not the checkpoint's word).
func (r *Recorder) restoreUntrusted(cm *corev1.ConfigMap, why error, now time.Time) {
	r.Log.Error(why, "evidence checkpoint not trusted; its evidence is left out and the slice's next report states the gap", "configMap", cm.Name)
	key, ok := sliceOf(cm.Name)
	if !ok || r.slices[key] != nil {
		return
	}
	from := cm.CreationTimestamp.Time
	msg := fmt.Sprintf("evidence checkpoint failed verification at the operator's restart at %s (%s): the evidence recorded before is left out",
		now.UTC().Format(time.RFC3339), strings.TrimPrefix(why.Error(), errUntrusted.Error()+": "))
	if len(msg) > 256 {
		msg = msg[:253] + "..."
	}
	r.slices[key] = &tracked{
		ref:        sliceRef{Namespace: key.Namespace, Name: key.Name},
		ledger:     &ledger{Restart: &restartMark{From: from, LostUntil: from, Down: msg}},
		restoredAt: now, stored: true, rv: cm.ResourceVersion, feeds: map[string]*feed{},
	}
}

// sliceOf reads a slice's key back from its checkpoint's name; false for
// a digest.
func sliceOf(name string) (types.NamespacedName, bool) {
	rest, ok := strings.CutPrefix(name, "evidence.")
	if !ok {
		return types.NamespacedName{}, false
	}
	ns, n, ok := strings.Cut(rest, ".")
	if !ok || n == "" || checkpointName(types.NamespacedName{Namespace: ns, Name: n}) != name {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: ns, Name: n}, true
}

// sealJob is a closed period to seal.
type sealJob struct {
	key    types.NamespacedName
	ref    sliceRef
	period *period // a copy
}

// saveJob is a checkpoint to write, or to delete (data nil).
type saveJob struct {
	key  types.NamespacedName
	data map[string][]byte
	rv   string
}

// cycle is one round: harvest the live slices, close the days that ended
// and the restored ledgers nobody claimed, seal the closed periods, then
// write the checkpoints that have something new (all of them, saying the
// operator stopped, when final) and delete those no longer needed.
func (r *Recorder) cycle(ctx context.Context, final bool) {
	r.init()
	now := r.Clock.Now()
	r.refresh(ctx)

	var seals []sealJob
	r.mu.Lock()
	for key, t := range r.slices {
		if t.live {
			r.harvest(t, now, false)
		}
		if p := t.ledger.open(); p != nil && p.Daily && !now.Before(p.Planned.Add(settle(p))) {
			t.ledger.endDay(p)
		}
		claimAfter := max(minClaim, 5*r.Interval)
		if !t.live && !t.restoredAt.IsZero() && now.Sub(t.restoredAt) >= claimAfter {
			// Nobody probes the slice any more: seal what was kept, with
			// the time since as a gap, ending no later than its booking.
			end := now
			if !t.schedEnd.IsZero() && t.schedEnd.Before(now) {
				end = maxTime(t.schedEnd, t.ledger.Until)
			}
			t.ledger.close(end, "", false)
			t.restoredAt = time.Time{}
		}
		if final {
			continue
		}
		for _, p := range t.ledger.Periods {
			if !p.closed() {
				continue
			}
			ref := t.ref
			if p.Slice != nil {
				ref = *p.Slice
			}
			if ref.UID == "" {
				continue // restored without a trusted checkpoint: nothing to seal
			}
			seals = append(seals, sealJob{key: key, ref: ref, period: clonePeriod(p)})
		}
	}
	r.mu.Unlock()

	for _, j := range seals {
		err := r.seal(ctx, j)
		r.mu.Lock()
		if t := r.slices[j.key]; t != nil {
			if err == nil || errors.Is(err, errUnsealable) {
				t.ledger.Periods = slices.DeleteFunc(t.ledger.Periods, func(p *period) bool {
					return p.closed() && p.Start.Equal(j.period.Start) && refUID(t, p) == j.ref.UID
				})
				t.ledger.dirty = true
			}
		}
		r.mu.Unlock()
		if err != nil {
			r.Log.Error(err, "sealing an SLA report", "slice", j.key, "period", j.period.Start)
		}
	}
	r.checkpoint(ctx, now, final)
}

var errUnsealable = errors.New("the period cannot be sealed")

func refUID(t *tracked, p *period) types.UID {
	if p.Slice != nil {
		return p.Slice.UID
	}
	return t.ref.UID
}

// settle is how long after midnight a day waits for its last windows to
// close before it is sealed.
func settle(p *period) time.Duration {
	return 2*p.Targets.Window + sla.DefaultGrace + time.Second
}

// seal builds, signs and creates the report of a closed period. A report
// of the same name is the one an earlier attempt made: done.
func (r *Recorder) seal(ctx context.Context, j sealJob) error {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	obj, err := sealReport(j.ref, j.period, r.Signer)
	if err != nil {
		return fmt.Errorf("%w: %w", errUnsealable, err)
	}
	err = r.Client.Create(ctx, obj)
	switch {
	case err == nil:
		r.Log.Info("sealed SLA report", "report", obj.Namespace+"/"+obj.Name, "from", obj.Spec.Period.Start, "to", obj.Spec.Period.End,
			"rollups", len(obj.Spec.Rollups), "gaps", len(obj.Spec.Gaps), "compliance", obj.Spec.Measured.Compliance)
		return nil
	case apierrors.IsAlreadyExists(err):
		return nil
	case apierrors.IsNotFound(err):
		// The namespace is gone: nowhere to keep the report.
		return fmt.Errorf("%w: creating SLAReport %s/%s: %w", errUnsealable, obj.Namespace, obj.Name, err)
	}
	return fmt.Errorf("creating SLAReport %s/%s: %w", obj.Namespace, obj.Name, err)
}

// refresh re-reads the live slices from the cache: the spec a report
// records is the slice's when sealed, and an extended booking plans a
// longer period.
func (r *Recorder) refresh(ctx context.Context) {
	r.mu.Lock()
	var keys []types.NamespacedName
	for k, t := range r.slices {
		if t.live {
			keys = append(keys, k)
		}
	}
	r.mu.Unlock()
	for _, k := range keys {
		var s v1alpha1.MedicalSlice
		if err := r.Client.Get(ctx, k, &s); err != nil {
			continue
		}
		ref, end, err := refOf(&s)
		if err != nil {
			continue
		}
		r.mu.Lock()
		if t := r.slices[k]; t != nil && t.live && t.ref.UID == ref.UID {
			t.ref, t.schedEnd = ref, end
		}
		r.mu.Unlock()
	}
}

// checkpoint writes the ledgers that have something new since their last
// checkpoint at least an interval ago, and deletes the checkpoints of
// slices with nothing left to keep.
func (r *Recorder) checkpoint(ctx context.Context, now time.Time, final bool) {
	select {
	case <-r.restored:
	default:
		return // writing now would overwrite checkpoints not yet loaded
	}
	var jobs []saveJob
	r.mu.Lock()
	for key, t := range r.slices {
		if !t.live && t.restoredAt.IsZero() && len(t.ledger.Periods) == 0 {
			delete(r.slices, key)
			if t.stored {
				jobs = append(jobs, saveJob{key: key})
			}
			continue
		}
		due := now.Sub(t.written) >= r.Interval*9/10
		if !(t.ledger.dirty && due) && !(final && (t.stored || t.ledger.dirty)) {
			continue
		}
		if t.ref.UID == "" {
			continue // restored untrusted, not probed since: nothing to keep
		}
		cp := &checkpoint{Version: checkpointVersion, Slice: t.ref, Written: now, Interval: r.Interval, Ledger: t.ledger}
		if final {
			cp.StoppedAt = now
		}
		data, err := encode(cp, checkpointName(key), r.Signer)
		if err != nil {
			r.Log.Error(err, "encoding an evidence checkpoint", "slice", key)
			continue
		}
		t.ledger.dirty = false
		t.written = now
		jobs = append(jobs, saveJob{key: key, data: data, rv: t.rv})
	}
	r.mu.Unlock()

	sem := make(chan struct{}, parallelism)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(ctx, apiTimeout)
			defer cancel()
			if j.data == nil {
				if err := r.store.remove(ctx, j.key); err != nil {
					r.Log.Error(err, "deleting an evidence checkpoint", "slice", j.key)
				}
				return
			}
			rv, err := r.store.save(ctx, j.key, j.data, j.rv)
			r.mu.Lock()
			defer r.mu.Unlock()
			t := r.slices[j.key]
			if err != nil {
				r.Log.Error(err, "writing an evidence checkpoint; retrying at the next", "slice", j.key)
				if t != nil {
					t.ledger.dirty, t.rv = true, ""
				}
				return
			}
			if t != nil {
				t.rv, t.stored = rv, true
			}
		}()
	}
	wg.Wait()
}

// clonePeriod copies a period, so that it is sealed outside the lock.
func clonePeriod(p *period) *period {
	c := *p
	c.Intervals = slices.Clone(p.Intervals)
	c.Gaps = slices.Clone(p.Gaps)
	c.Violations = slices.Clone(p.Violations)
	c.P50s = nil
	return &c
}
