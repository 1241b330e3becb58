// Command medslice-operator reconciles MedicalSlices against 5G cores and
// receives the cores' notifications.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/controllers"
	"github.com/medslice/medslice/internal/console"
	"github.com/medslice/medslice/internal/coreconn"
	"github.com/medslice/medslice/internal/evidence"
	"github.com/medslice/medslice/internal/metrics"
	"github.com/medslice/medslice/internal/notify"
	"github.com/medslice/medslice/internal/plan"
	"github.com/medslice/medslice/internal/probe"
	"github.com/medslice/medslice/internal/report"
	"github.com/medslice/medslice/internal/scheme"
)

type options struct {
	metricsAddr, probeAddr, notifyAddr string
	pprofAddr                          string
	apiQPS                             float64
	apiBurst                           int
	leaderElect                        bool
	leaseDuration, renewDeadline       time.Duration
	retryPeriod                        time.Duration
	namespace, keySecret               string
	lease, verifyInterval, sweep       time.Duration
	slaFigures                         time.Duration
	coreTimeout, corePing              time.Duration
	concurrency                        int
	probeSource                        string
	crashPoint                         string
	noProbes                           bool
	timezone                           string
	reportKeySecret                    string
	evidenceInterval                   time.Duration
	consoleAddr                        string
	emulatedUserPlane, emulatedRefl    string
	notifyTLS                          notifyTLSFlags
}

func main() {
	var o options
	flag.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint")
	flag.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "address of /healthz and /readyz")
	flag.StringVar(&o.pprofAddr, "pprof-bind-address", "", "address of the Go profiler (/debug/pprof/) for diagnosing CPU and memory; empty (the default) disables it")
	flag.Float64Var(&o.apiQPS, "kube-api-qps", -1, "requests per second to the API server the operator allows itself; negative: no client-side limit, the API server's priority and fairness decide")
	flag.IntVar(&o.apiBurst, "kube-api-burst", 0, "requests above --kube-api-qps allowed in a burst (with a positive --kube-api-qps)")
	flag.StringVar(&o.notifyAddr, "notify-bind-address", ":8082", "address of the receiver for core notifications (CoreNetwork notificationBaseURL must reach it)")
	flag.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader so that only one replica provisions")
	flag.DurationVar(&o.leaseDuration, "leader-elect-lease-duration", 15*time.Second, "how long a standby waits, after the leader last renewed its lease, before taking over (the longest a dead leader's slices go unreconciled)")
	flag.DurationVar(&o.renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew its lease before it gives up leading (and exits); shorter than the lease duration")
	flag.DurationVar(&o.retryPeriod, "leader-elect-retry-period", 2*time.Second, "how often replicas try to acquire or renew the lease")
	flag.StringVar(&o.namespace, "namespace", envOr("POD_NAMESPACE", "medslice-system"), "namespace of the operator's own objects (leader lease, notification key) and of the Secrets that CoreNetworks' spec.auth names")
	flag.StringVar(&o.keySecret, "notification-key-secret", "medslice-notification-key", "Secret holding the key that signs notification URIs; created when absent")
	flag.DurationVar(&o.lease, "session-lease", 10*time.Minute, "time bound of an open-ended slice's core sessions, renewed at half")
	flag.DurationVar(&o.verifyInterval, "verify-interval", 30*time.Second, "how often a settled slice's sessions are checked against the core")
	flag.DurationVar(&o.slaFigures, "sla-figures-interval", time.Minute, "how old the SLA figures in a slice's status (RTT, jitter, loss, windows) may get before they are written again while the verdict stands; a changed GO / NO-GO is written at once; 0 writes them at every verification")
	flag.DurationVar(&o.sweep, "sweep-interval", 30*time.Second, "how often cores that can list sessions are swept for orphans")
	flag.DurationVar(&o.coreTimeout, "core-timeout", 10*time.Second, "timeout of one request to a core")
	flag.DurationVar(&o.corePing, "core-ping-interval", 30*time.Second, "how often each core's reachability is checked")
	flag.IntVar(&o.concurrency, "max-concurrent-reconciles", 16, "slices reconciled in parallel")
	flag.StringVar(&o.probeSource, "probe-source", "", "the operator's probe source address, added to every slice's flow descriptions")
	flag.StringVar(&o.consoleAddr, "console-bind-address", ":8083", "address of the web console for surgery teams; empty disables it")
	flag.StringVar(&o.timezone, "timezone", envOr("TZ", "Local"), "time zone of the hospital, for times in admission messages (IANA name, e.g. Europe/Berlin)")
	flag.StringVar(&o.reportKeySecret, "report-key-secret", "medslice-report-key", "Secret holding the Ed25519 key that signs SLA reports and evidence checkpoints, and every public key it has used; created when absent")
	flag.DurationVar(&o.evidenceInterval, "evidence-checkpoint-interval", evidence.DefaultInterval, "how often each probed slice's new evidence is checkpointed: the most an operator restart loses, stated in the slice's report")
	flag.BoolVar(&o.noProbes, "disable-probes", false, "do not probe slices: SLAMet stays Unknown and no slice is ever GO")
	flag.StringVar(&o.emulatedUserPlane, "emulated-user-plane", "", "development only: the core emulator's URL; probes go through its emulated user plane instead of to device addresses")
	flag.StringVar(&o.emulatedRefl, "emulated-reflector", "", "development only: the reflector address the emulated user plane relays device probes to")
	flag.StringVar(&o.crashPoint, "testing-crash-point", "", "testing only: 'after-core-create' sends SIGKILL to this process right after the first core create, before its status write")
	o.notifyTLS.bind(flag.CommandLine)
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.Error(err, "operator stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	log := ctrl.Log.WithName("setup")
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(o.apiQPS), o.apiBurst
	sch := scheme.New()
	mgr, err := ctrl.NewManager(cfg, manager.Options{
		Scheme:                  sch,
		Metrics:                 metricsserver.Options{BindAddress: o.metricsAddr},
		PprofBindAddress:        o.pprofAddr,
		HealthProbeBindAddress:  o.probeAddr,
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "medslice-operator.medslice.io",
		LeaderElectionNamespace: o.namespace,
		LeaseDuration:           &o.leaseDuration,
		RenewDeadline:           &o.renewDeadline,
		RetryPeriod:             &o.retryPeriod,
		// The process ends as soon as the manager does, so a replica that
		// is stopped may hand the lease over at once rather than make the
		// next one wait for the lease to expire.
		LeaderElectionReleaseOnCancel: true,
		// Secrets are read only in the operator's namespace (the Role
		// allows nothing else): the credentials of authenticated cores.
		// Helm's release records, the largest Secrets there, stay out.
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {
				Namespaces: map[string]cache.Config{o.namespace: {}},
				Field:      fields.OneTermNotEqualSelector("type", "helm.sh/release.v1"),
			},
		},
			// Nothing reads managedFields, a third of a cached slice.
			DefaultTransform: cache.TransformStripManagedFields(),
		},
	})
	if err != nil {
		return fmt.Errorf("manager: %w", err)
	}
	direct, err := client.New(cfg, client.Options{Scheme: sch})
	if err != nil {
		return err
	}
	key, err := notificationKey(ctx, direct, o.namespace, o.keySecret)
	if err != nil {
		return err
	}
	signer, err := notify.NewSigner(key)
	if err != nil {
		return err
	}

	clk := clock.RealClock{}
	loc, err := time.LoadLocation(o.timezone)
	if err != nil {
		return fmt.Errorf("--timezone %q: %w", o.timezone, err)
	}
	cores := &coreconn.Pool{Timeout: o.coreTimeout, Secrets: mgr.GetClient(), Namespace: o.namespace}
	inbox := &notify.Inbox{}
	wake := make(chan event.TypedGenericEvent[*v1alpha1.MedicalSlice], 4096)
	deliverEvidence := func(notify.Event) {}

	slices := &controllers.MedicalSliceReconciler{
		Client:             mgr.GetClient(),
		Recorder:           mgr.GetEventRecorder("medslice-operator"),
		Clock:              clk,
		Cores:              cores,
		Signer:             signer,
		Inbox:              inbox,
		Expiry:             plan.Expiry{Lease: o.lease},
		VerifyInterval:     o.verifyInterval,
		SLAFiguresInterval: o.slaFigures,
		ProbeSource:        o.probeSource,
		Notifications:      wake,
		Admitter:           &controllers.Admitter{Reader: mgr.GetAPIReader(), Location: loc},
		Wake: func(key types.NamespacedName) {
			s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
			select {
			case wake <- event.TypedGenericEvent[*v1alpha1.MedicalSlice]{Object: s}:
			default:
			}
		},
	}
	// medslice_slices is counted from the cache at scrape time, on the leader.
	if err := metrics.RegisterSliceCollector(&metrics.SliceCollector{
		Reader: mgr.GetCache(), Elected: mgr.Elected(), Log: ctrl.Log.WithName("metrics"),
	}); err != nil {
		return fmt.Errorf("medslice_slices collector: %w", err)
	}
	obs := &metrics.ProbeObserver{}
	if !o.noProbes {
		probes := &probe.Manager{
			Now:          clk.Now,
			EvalInterval: 100 * time.Millisecond,
			Observer:     obs,
			Log:          ctrl.Log.WithName("probe"),
			OnChange: func(key types.NamespacedName) {
				s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}
				select {
				case wake <- event.TypedGenericEvent[*v1alpha1.MedicalSlice]{Object: s}:
				default:
				}
			},
		}
		if err := mgr.Add(probes); err != nil {
			return err
		}
		// Evidence (DESIGN §7): the recorder takes the probes' windows
		// before they are discarded, checkpoints them and seals SLAReports.
		reportKey, reportKeys, err := report.LoadOrCreateKey(ctx, direct, o.namespace, o.reportKeySecret)
		if err != nil {
			return fmt.Errorf("--report-key-secret: %w", err)
		}
		recorder := &evidence.Recorder{
			Probes: probes, Client: mgr.GetClient(), Reader: mgr.GetAPIReader(), Namespace: o.namespace,
			Signer: reportKey, Keys: reportKeys, Clock: clk, Location: loc, Interval: o.evidenceInterval,
			Log: ctrl.Log.WithName("evidence"),
		}
		if err := mgr.Add(recorder); err != nil {
			return err
		}
		slices.Probes = recorder
		deliverEvidence = func(ev notify.Event) {
			for _, r := range ev.Reports {
				probes.AddNetworkReport(ev.Ref.Slice, ev.Ref.Device, ev.Received, r.Kind, r.Detail)
			}
		}
	}
	if o.emulatedUserPlane != "" {
		routes := &probe.EmulatorRoutes{AdminURL: o.emulatedUserPlane, Reflector: o.emulatedRefl}
		slices.ProbeRoute = routes.Route
	}
	if o.crashPoint == "after-core-create" {
		slices.AfterCoreCreate = func() {
			log.Info("testing crash point reached: killing the operator after a core create, before its status write")
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	if err := slices.SetupWithManager(mgr, o.concurrency); err != nil {
		return fmt.Errorf("medicalslice controller: %w", err)
	}
	if err := (&controllers.CoreNetworkReconciler{
		Client: mgr.GetClient(), Clock: clk, Cores: cores, ProbeInterval: o.corePing, SecretNamespace: o.namespace,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("corenetwork controller: %w", err)
	}
	if err := mgr.Add(&controllers.Sweeper{
		Client: mgr.GetClient(), Cores: cores, Signer: signer, Interval: o.sweep, Enqueue: wake,
	}); err != nil {
		return err
	}

	receiver := &notify.Receiver{
		Signer: signer,
		Now:    clk.Now,
		Log:    ctrl.Log.WithName("notify"),
		Deliver: func(ev notify.Event) {
			inbox.Record(ev)
			deliverEvidence(ev)
			if monitoringOnly(ev) {
				// Periodic QoS monitoring (every second per session) is
				// evidence for the probes, which wake the slice when its
				// verdict changes; a reconcile per report would be one per
				// session per second.
				return
			}
			s := &v1alpha1.MedicalSlice{ObjectMeta: metav1.ObjectMeta{Namespace: ev.Ref.Slice.Namespace, Name: ev.Ref.Slice.Name}}
			select {
			case wake <- event.TypedGenericEvent[*v1alpha1.MedicalSlice]{Object: s}:
			default: // full: the periodic verification catches up
			}
		},
		Observe: func(o notify.Outcome) { metrics.Notifications.WithLabelValues(string(o)).Inc() },
	}
	mux := http.NewServeMux()
	mux.Handle(notify.PathPrefix, receiver)
	// Cores speak HTTP/2 cleartext (TS 29.500), or TLS with --notify-tls-cert.
	notifyServer := serve("notify", o.notifyAddr, mux, true)
	if o.notifyTLS.enabled() {
		if notifyServer, err = o.notifyTLS.runnable(o.notifyAddr, mux); err != nil {
			return err
		}
	}
	if err := mgr.Add(notifyServer); err != nil {
		return err
	}
	if o.consoleAddr != "" {
		c, err := console.New(console.Config{RestConfig: mgr.GetConfig(), Location: loc, Now: clk.Now, Log: ctrl.Log.WithName("console")})
		if err != nil {
			return fmt.Errorf("console: %w", err)
		}
		if err := mgr.Add(serve("console", o.consoleAddr, c.Handler(), false)); err != nil {
			return err
		}
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	log.Info("starting operator", "notify", o.notifyAddr, "metrics", o.metricsAddr, "leaderElection", o.leaderElect,
		"leaseDuration", o.leaseDuration, "renewDeadline", o.renewDeadline, "retryPeriod", o.retryPeriod)
	return mgr.Start(ctx)
}

// serve runs an HTTP server on every replica, leader or not: a notification
// only wakes a reconcile, which runs where the leader is, and the console
// reads and writes through the API server.
func serve(name, addr string, h http.Handler, h2c bool) manager.Runnable {
	return everyReplica(func(ctx context.Context) error {
		srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second}
		if h2c {
			srv.Protocols = new(http.Protocols)
			srv.Protocols.SetHTTP1(true)
			srv.Protocols.SetUnencryptedHTTP2(true)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		ctrl.Log.WithName(name).Info("listening", "addr", ln.Addr().String())
		go func() {
			<-ctx.Done()
			shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdown)
		}()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
}

// everyReplica is a runnable the manager starts whether or not this replica
// leads. A bare RunnableFunc would wait for leadership: the manager puts
// runnables that do not say otherwise in its leader election group.
type everyReplica func(context.Context) error

func (f everyReplica) Start(ctx context.Context) error { return f(ctx) }

// NeedLeaderElection is false: see everyReplica.
func (everyReplica) NeedLeaderElection() bool { return false }

// notificationKey reads the signing key from its Secret, creating it when
// absent so that every replica shares one key.
func notificationKey(ctx context.Context, c client.Client, ns, name string) ([]byte, error) {
	const field = "key"
	var sec corev1.Secret
	err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &sec)
	if apierrors.IsNotFound(err) {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		sec = corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Data:       map[string][]byte{field: key},
		}
		if err := c.Create(ctx, &sec); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating notification key Secret %s/%s: %w", ns, name, err)
		}
		// Another replica may have won the race: read what is stored.
		if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, &sec); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("reading notification key Secret %s/%s: %w", ns, name, err)
	}
	key := sec.Data[field]
	if len(key) < notify.MinKeyLen {
		return nil, fmt.Errorf("notification key Secret %s/%s: data.%s must hold at least %d bytes", ns, name, field, notify.MinKeyLen)
	}
	return key, nil
}

// monitoringOnly tells whether a notification carries QoS monitoring
// reports and nothing else.
func monitoringOnly(ev notify.Event) bool {
	if ev.Terminated || len(ev.Reports) == 0 {
		return false
	}
	for _, e := range ev.Events {
		if e != notify.ReportQoSMonitoring {
			return false
		}
	}
	for _, r := range ev.Reports {
		if r.Kind != notify.ReportQoSMonitoring {
			return false
		}
	}
	return true
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
