package emulator

import (
	"fmt"
	"net/http"
	"net/netip"
	"path"
	"sync"
	"time"

	"github.com/free5gc/openapi/models"

	"github.com/medslice/medslice/internal/emulator/userplane"
)

// The emulated user plane (package userplane) sits beside the control
// plane: sessions the NEF and PCF APIs grant become entries of its flow
// table, and impairments injected through the admin API are reported to
// the sessions they hurt, as a core reports QoS it can no longer
// guarantee.

// DefaultLinkRate is the emulated link's rate when UserPlaneConfig.LinkRate
// is zero.
const DefaultLinkRate BitRate = userplane.DefaultLinkRate

// UserPlaneConfig configures the emulated user plane. Zero values take the
// defaults.
type UserPlaneConfig struct {
	// Enabled turns the user plane on; without it the user plane admin
	// API answers 404.
	Enabled bool
	// LinkRate is the rate of each direction of the link (default
	// DefaultLinkRate, 100 Mbps).
	LinkRate BitRate
	// LinkDelay is the base one-way delay (default 1 ms; negative: none).
	LinkDelay time.Duration
	// QueueLimit bounds each scheduler queue as link time (default 100 ms).
	QueueLimit time.Duration
	// ListenHost is where network-side ports are opened (default
	// 127.0.0.1).
	ListenHost netip.Addr
	// ProbeSource is the logical address of whatever sends to a
	// network-side port, matched against flow descriptions (default
	// 10.100.0.254): the operator's --probe-source.
	ProbeSource netip.Addr
	// UEPort is the logical port of every UE's reflector for flow
	// matching (see userplane.Config.UEPort); 0 = the target's real port.
	UEPort uint16
	// Routes are opened at start: UE address → device-side target (the
	// UE's reflector, e.g. 127.0.0.1:8620).
	Routes map[netip.Addr]netip.AddrPort
	// Listen optionally fixes the network-side address of some of Routes,
	// so that senders know where to send without asking (default: a free
	// port on ListenHost).
	Listen map[netip.Addr]netip.AddrPort
	// DefaultTarget, when set, is the device-side target of a UE that gets
	// a session and has no route yet: the route is opened then. Typically
	// the one reflector a development stack runs for every device.
	DefaultTarget netip.AddrPort
	// TimerSpin is the scheduler's busy-wait before each delivery
	// (default 50 µs; negative: none).
	TimerSpin time.Duration
}

// userPlane is the server's user plane state.
type userPlane struct {
	fwd *userplane.Forwarder
	cfg UserPlaneConfig

	mu sync.Mutex
	// synced is the record whose flows are installed, by session id.
	// Records are immutable, so a pointer says whether a session changed.
	synced map[string]*record
	// notGuaranteed holds the sessions told QOS_NOT_GUARANTEED (NEF) or
	// QOS_NOTIF NOT_GUARANTEED (PCF) and not told otherwise since.
	notGuaranteed map[string]bool
	// qosMon schedules the QoS monitoring reports (qosmon.go).
	qosMon qosMonitor
}

// startUserPlane opens the user plane when the configuration asks for it.
func (s *Server) startUserPlane() error {
	c := s.cfg.UserPlane
	if !c.Enabled {
		return nil
	}
	if c.LinkRate == 0 {
		c.LinkRate = DefaultLinkRate
	}
	fwd, err := userplane.New(userplane.Config{
		ListenHost:  c.ListenHost,
		ProbeSource: c.ProbeSource,
		UEPort:      c.UEPort,
		LinkRate:    uint64(c.LinkRate),
		LinkDelay:   c.LinkDelay,
		QueueLimit:  c.QueueLimit,
		TimerSpin:   c.TimerSpin,
		Seed:        s.cfg.Seed,
		Logger:      s.log,
	})
	if err != nil {
		return fmt.Errorf("user plane: %w", err)
	}
	for ue, target := range c.Routes {
		listen, ok := c.Listen[ue]
		if !ok {
			listen = netip.AddrPortFrom(fwd.Config().ListenHost, 0)
		}
		if _, err := fwd.AddRouteAt(ue.String(), target, listen); err != nil {
			_ = fwd.Close()
			return fmt.Errorf("user plane route for %s: %w", ue, err)
		}
	}
	s.userPlane = &userPlane{fwd: fwd, cfg: c, synced: map[string]*record{}, notGuaranteed: map[string]bool{}}
	fc := fwd.Config()
	s.log.Info("user plane emulated", "linkRate", c.LinkRate.String(), "linkDelay", fc.LinkDelay, "queueLimit", fc.QueueLimit,
		"probeSource", fc.ProbeSource, "routes", len(c.Routes), "defaultTarget", c.DefaultTarget)
	return nil
}

// stopUserPlane closes the user plane's sockets.
func (s *Server) stopUserPlane() {
	if s.userPlane != nil {
		_ = s.userPlane.fwd.Close()
	}
}

// UserPlane is the emulated user plane, nil when it is off.
func (s *Server) UserPlane() *userplane.Forwarder {
	if s.userPlane == nil {
		return nil
	}
	return s.userPlane.fwd
}

// syncUserPlane brings one session's flows in line with the store, and
// tells whether the session is new to a UE under an impairment (it then
// must be told QOS_NOT_GUARANTEED, after its creation was answered). It
// reads the store rather than trusting the caller, so concurrent requests
// on one session leave the flows of whichever stored last.
func (s *Server) syncUserPlane(id string) (impaired *record) {
	up := s.userPlane
	if up == nil || id == "" {
		return nil
	}
	rec := s.store.get(id)
	up.mu.Lock()
	defer up.mu.Unlock()
	old := up.synced[id]
	if rec == old {
		return nil
	}
	if rec == nil {
		up.fwd.RemoveFlows(id)
		delete(up.synced, id)
		delete(up.notGuaranteed, id)
		return nil
	}
	up.synced[id] = rec
	ue, err := netip.ParseAddr(rec.UEAddress)
	if err != nil {
		// A MAC address: Ethernet flows are not emulated (validateNEF
		// refuses them); nothing to schedule.
		up.fwd.RemoveFlows(id)
		return nil
	}
	if err := up.fwd.SetFlows(id, ue, int(rec.FiveQI), rec.FlowDescriptions); err != nil {
		s.log.Warn("user plane: some flow descriptions are not scheduled", "session", id, "err", err)
	}
	s.ensureRoute(ue)
	if old == nil && up.fwd.Impaired(ue) && !up.notGuaranteed[id] {
		up.notGuaranteed[id] = true
		return rec
	}
	return nil
}

// ensureRoute opens the route of a UE that has none, to DefaultTarget.
func (s *Server) ensureRoute(ue netip.Addr) {
	up := s.userPlane
	if !up.cfg.DefaultTarget.IsValid() {
		return
	}
	if _, ok := up.fwd.Route(ue); ok {
		return
	}
	if _, err := up.fwd.AddRoute(ue.String(), up.cfg.DefaultTarget); err != nil {
		s.log.Warn("user plane: cannot open the route of a UE with a session", "ue", ue, "target", up.cfg.DefaultTarget, "err", err)
	}
}

// forgetUserPlane removes the flows of a session that ended without a
// request (expiry).
func (s *Server) forgetUserPlane(id string) {
	if s.userPlane != nil {
		s.syncUserPlane(id)
	}
}

// resyncUserPlane removes the flows of every session the store no longer
// holds (after an admin reset).
func (s *Server) resyncUserPlane() {
	up := s.userPlane
	if up == nil {
		return
	}
	up.mu.Lock()
	ids := make([]string, 0, len(up.synced))
	for id := range up.synced {
		ids = append(ids, id)
	}
	up.mu.Unlock()
	for _, id := range ids {
		s.syncUserPlane(id)
	}
}

// withUserPlaneSync wraps a NEF or PCF handler so that the flow table
// follows the session it changed before the answer leaves: the session is
// named by the path (individual resources) or the Location header (a
// create). Impairment notifications for a new session go after the
// handler's own.
func (s *Server) withUserPlaneSync(h http.HandlerFunc) http.HandlerFunc {
	if s.userPlane == nil {
		return h
	}
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &syncingWriter{ResponseWriter: w}
		var impaired *record
		sw.sync = func() {
			id := firstNonEmpty(r.PathValue("subscriptionId"), r.PathValue("appSessionId"))
			if id == "" {
				if loc := w.Header().Get("Location"); loc != "" {
					id = path.Base(loc)
				}
			}
			impaired = s.syncUserPlane(id)
		}
		h(sw, r)
		sw.syncOnce()
		if impaired != nil {
			s.notifyQoS(impaired, false)
		}
	}
}

// withUserPlaneReset resynchronises the flow table when the admin API
// forgets every session, before the answer leaves.
func (s *Server) withUserPlaneReset(h http.Handler) http.Handler {
	if s.userPlane == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/admin/v1/reset" {
			h.ServeHTTP(w, r)
			return
		}
		sw := &syncingWriter{ResponseWriter: w, sync: s.resyncUserPlane}
		h.ServeHTTP(sw, r)
		sw.syncOnce()
	})
}

// syncingWriter runs sync once, when the handler starts its answer: by then
// the store holds the outcome.
type syncingWriter struct {
	http.ResponseWriter
	sync func()
	done bool
}

func (w *syncingWriter) syncOnce() {
	if !w.done {
		w.done = true
		w.sync()
	}
}

func (w *syncingWriter) WriteHeader(status int) {
	w.syncOnce()
	w.ResponseWriter.WriteHeader(status)
}

func (w *syncingWriter) Write(b []byte) (int, error) {
	w.syncOnce()
	return w.ResponseWriter.Write(b)
}

// qosTransitions are the sessions told a QoS change by an impairment update.
type qosTransitions struct {
	NotGuaranteed int `json:"QOS_NOT_GUARANTEED"`
	Guaranteed    int `json:"QOS_GUARANTEED"`
}

// reconcileQoS tells every session whose UE an impairment now hurts that its
// QoS is not guaranteed, and every session told so before whose UE is no
// longer impaired that it is guaranteed again.
func (s *Server) reconcileQoS() qosTransitions {
	up := s.userPlane
	recs := s.store.list(nil)
	var worse, better []*record
	up.mu.Lock()
	for _, rec := range recs {
		ue, err := netip.ParseAddr(rec.UEAddress)
		impaired := err == nil && up.fwd.Impaired(ue)
		switch was := up.notGuaranteed[rec.ID]; {
		case impaired && !was:
			up.notGuaranteed[rec.ID] = true
			worse = append(worse, rec)
		case !impaired && was:
			delete(up.notGuaranteed, rec.ID)
			better = append(better, rec)
		}
	}
	up.mu.Unlock()
	for _, rec := range worse {
		s.notifyQoS(rec, false)
	}
	for _, rec := range better {
		s.notifyQoS(rec, true)
	}
	return qosTransitions{NotGuaranteed: len(worse), Guaranteed: len(better)}
}

// notifyQoS reports that a session's QoS targets are not (or again are)
// guaranteed, if it subscribed to that:
//   - NEF: UserPlaneNotificationData with event QOS_NOT_GUARANTEED or
//     QOS_GUARANTEED (TS 29.122 §5.14.3.3, UserPlaneEvent);
//   - PCF: EventsNotification with event QOS_NOTIF and a qncReports entry
//     of notifType NOT_GUARANTEED or GUARANTEED (TS 29.514 §4.2.5.2,
//     AfEvent and QosNotificationControlInfo).
func (s *Server) notifyQoS(rec *record, guaranteed bool) {
	switch rec.API {
	case APINEF:
		ev := models.Nef_AsSessQoS_UserPlaneEvent_QOS_NOT_GUARANTEED
		if guaranteed {
			ev = models.Nef_AsSessQoS_UserPlaneEvent_QOS_GUARANTEED
		}
		s.notifyNEF(rec, ev)
	case APIPCF:
		t := models.Pcf_PolAuth_QosNotifType_NOT_GUARANTEED
		if guaranteed {
			t = models.Pcf_PolAuth_QosNotifType_GUARANTEED
		}
		s.notifyPCFQoS(rec, t)
	}
}

// notifyPCFQoS sends QOS_NOTIF to {evSubsc.notifUri}/notify if the AF
// subscribed to it. notifyPCF cannot carry the qncReports that say which
// way the QoS went.
func (s *Server) notifyPCFQoS(rec *record, t models.Pcf_PolAuth_QosNotifType) {
	es := rec.pcf.EvSubsc
	if es == nil || es.NotifUri == "" {
		return
	}
	subscribed := false
	for _, e := range es.Events {
		subscribed = subscribed || e.Event == models.Pcf_PolAuth_AfEvent_QOS_NOTIF
	}
	if !subscribed {
		return
	}
	s.notifier.enqueue(joinCallback(es.NotifUri, "notify"), models.Pcf_PolAuth_EventsNotification{
		EvSubsUri:  rec.ResourceURI + "/events-subscription",
		EvNotifs:   []models.Pcf_PolAuth_AfEventNotification{{Event: models.Pcf_PolAuth_AfEvent_QOS_NOTIF}},
		QncReports: []models.Pcf_PolAuth_QosNotificationControlInfo{{NotifType: t}},
	}, rec.ID, string(models.Pcf_PolAuth_AfEvent_QOS_NOTIF)+" "+string(t))
}
