package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/coreconn"
	"github.com/medslice/medslice/internal/emulator"
	"github.com/medslice/medslice/internal/notify"
	"github.com/medslice/medslice/internal/plan"
	"github.com/medslice/medslice/internal/probe"
	"github.com/medslice/medslice/internal/testenv"
)

// Integration tests: the reconcilers run in a manager against the real
// kube-apiserver, provisioning on the real core emulator (in-process).
const (
	timeout      = 20 * time.Second
	pollInterval = 50 * time.Millisecond
	// verifyInterval is short so that lost sessions are noticed quickly.
	verifyInterval = 500 * time.Millisecond
	// operatorNamespace holds the Secrets of authenticated cores.
	operatorNamespace = "medslice-system"
)

var (
	env     *testenv.Env
	emu     *emulator.Server
	emuURL  string
	signer  *notify.Signer
	sweeper *Sweeper
	probes  *probe.Manager
	// testClock is the reconcilers' clock; booking tests move it forward.
	testClock = &offsetClock{}
	admitter  *Admitter
	wakeUp    func(types.NamespacedName)
	ctx       = context.Background()
)

func TestMain(m *testing.M) {
	testenv.Main(m, func(e *testenv.Env) {
		env = e
		if err := setup(); err != nil {
			fmt.Fprintln(os.Stderr, "setup:", err)
			os.Exit(1)
		}
	})
}

func setup() error {
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	var err error
	emu, err = emulator.New(emulator.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	// Served as the emulator binary serves it: HTTP/2 cleartext and HTTP/1.1.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := emulator.NewHTTPServer(emu.Handler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	go func() { _ = hs.Serve(ln) }()
	emuURL = "http://" + ln.Addr().String()
	if signer, err = notify.NewSigner([]byte("integration-test-key-0123456789ab")); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return err
	}
	cores := &coreconn.Pool{Timeout: 5 * time.Second, Secrets: mgr.GetClient(), Namespace: operatorNamespace}
	wake := make(chan event.TypedGenericEvent[*v1alpha1.MedicalSlice], 128)
	probes = &probe.Manager{
		Now: time.Now, EvalInterval: 20 * time.Millisecond, Log: ctrl.Log,
		OnChange: func(key types.NamespacedName) {
			wake <- event.TypedGenericEvent[*v1alpha1.MedicalSlice]{Object: &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
		},
	}
	if err := mgr.Add(probes); err != nil {
		return err
	}
	wakeUp = func(key types.NamespacedName) {
		wake <- event.TypedGenericEvent[*v1alpha1.MedicalSlice]{Object: &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}}
	}
	admitter = &Admitter{Reader: mgr.GetAPIReader(), Location: time.UTC}
	if err := (&MedicalSliceReconciler{
		Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("test"), Clock: testClock,
		Admitter: admitter, Wake: func(k types.NamespacedName) { go wakeUp(k) },
		Cores: cores, Signer: signer, Inbox: &notify.Inbox{}, Expiry: plan.Expiry{Lease: 10 * time.Minute},
		VerifyInterval: verifyInterval, Notifications: wake, Probes: probes,
	}).SetupWithManager(mgr, 4); err != nil {
		return err
	}
	if err := (&CoreNetworkReconciler{Client: mgr.GetClient(), Clock: clock.RealClock{}, Cores: cores, ProbeInterval: time.Second, SecretNamespace: operatorNamespace}).SetupWithManager(mgr); err != nil {
		return err
	}
	// The sweep is driven by the tests (Sweep), not by a ticker.
	sweeper = &Sweeper{Client: mgr.GetAPIReader(), Cores: cores, Signer: signer, Interval: time.Hour, Enqueue: wake}
	mgrCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	env.OnStop(func() {
		cancel()
		<-done
		_ = hs.Close()
		emu.Close()
	})
	go func() {
		defer close(done)
		if err := mgr.Start(mgrCtx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
			os.Exit(1)
		}
	}()
	return createFixtures()
}

func createFixtures() error {
	for _, ns := range []string{"or-1", "or-2", operatorNamespace} {
		if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			return err
		}
	}
	for _, cn := range []*v1alpha1.CoreNetwork{coreNetwork("nef", v1alpha1.CoreAPINEF), coreNetwork("pcf", v1alpha1.CoreAPIPCF)} {
		if err := env.Client.Create(ctx, cn); err != nil {
			return err
		}
	}
	return env.Client.Create(ctx, profile("urllc"))
}

// offsetClock is the wall clock plus an offset tests can move.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c *offsetClock) Advance(d time.Duration)         { c.offset.Add(int64(d)) }

func coreNetwork(name string, api v1alpha1.CoreAPI) *v1alpha1.CoreNetwork {
	cn := &v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: name}}
	cn.Spec = v1alpha1.CoreNetworkSpec{API: api, Endpoint: emuURL, NotificationBaseURL: "http://127.0.0.1:1"}
	if api == v1alpha1.CoreAPINEF {
		cn.Spec.AFID = "test-af"
	}
	return cn
}

func ptr[T any](v T) *T { return &v }

func profile(name string) *v1alpha1.SliceProfile {
	p := &v1alpha1.SliceProfile{ObjectMeta: metav1.ObjectMeta{Name: name}}
	p.Spec = v1alpha1.SliceProfileSpec{
		ServiceType: v1alpha1.ServiceTypeURLLC,
		QoS: v1alpha1.QoS{
			FiveQI: ptr[int32](82), ARP: &v1alpha1.ARP{PriorityLevel: 1, PreemptCap: v1alpha1.PreemptionMayPreempt, PreemptVuln: v1alpha1.PreemptionNotPreemptable},
			GBRUplinkKbps: ptr[int64](20000), GBRDownlinkKbps: ptr[int64](20000), MBRUplinkKbps: ptr[int64](40000), MBRDownlinkKbps: ptr[int64](40000),
			PacketDelayBudgetMs: ptr[int32](10), PacketErrorRate: "1E-4", MaxDataBurstVolumeBytes: ptr[int32](255), MediaType: "APPLICATION",
		},
		SNSSAI: v1alpha1.SNSSAI{SST: 2, SD: "000001"},
		DNN:    "hospital",
	}
	return p
}

// sliceBuilder builds test slices.
type sliceBuilder struct{ s *v1alpha1.MedicalSlice }

func newSlice(ns, name, coreName string) *sliceBuilder {
	s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	s.Spec.Profile = "urllc"
	s.Spec.CoreRef = coreName
	s.Spec.Application = v1alpha1.Application{Servers: []string{"10.100.0.10"}, Ports: []string{"5000"}, Protocol: v1alpha1.ProtocolUDP}
	return &sliceBuilder{s}
}

func (b *sliceBuilder) profile(p string) *sliceBuilder { b.s.Spec.Profile = p; return b }

func (b *sliceBuilder) device(name, ip string) *sliceBuilder {
	b.s.Spec.Devices = append(b.s.Spec.Devices, v1alpha1.Device{Name: name, IPv4: ip})
	return b
}

func (b *sliceBuilder) obj() *v1alpha1.MedicalSlice { return b.s }

// emuSession is the part of the emulator's admin view the tests read.
type emuSession struct {
	ID               string    `json:"id"`
	API              string    `json:"api"`
	UEAddress        string    `json:"ueAddress"`
	FlowDescriptions []string  `json:"flowDescriptions"`
	Correlation      string    `json:"correlation"`
	ExpiresAt        time.Time `json:"expiresAt"`
}

func emuSessions(t *testing.T) []emuSession {
	t.Helper()
	resp, err := http.Get(emuURL + "/admin/v1/sessions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []emuSession
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// sessionsFor returns the emulator's sessions of one slice, by device.
func sessionsFor(t *testing.T, s *v1alpha1.MedicalSlice) map[string][]emuSession {
	out := map[string][]emuSession{}
	for _, e := range emuSessions(t) {
		for _, d := range s.Spec.Devices {
			if e.Correlation == string(s.UID)+"/"+d.Name {
				out[d.Name] = append(out[d.Name], e)
			}
		}
	}
	return out
}

func eventually(t *testing.T, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(pollInterval)
	}
	t.Fatalf("%s: %v", what, err)
}
