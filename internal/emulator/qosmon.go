package emulator

import (
	"encoding/json"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/free5gc/openapi/models"

	"github.com/medslice/medslice/internal/emulator/userplane"
)

// Network-side QoS monitoring (TS 23.501 §5.33.3): with the user plane
// emulated, a session that asks for periodic packet delay reports gets one
// every period, saying what the emulated link imposes on its UE's packets
// at that moment:
//   - NEF (TS 29.122 §5.14): qosMonInfo with PERIODIC among repFreqs, every
//     repPeriod seconds, to notificationDestination as
//     UserPlaneNotificationData with an event report QOS_MONITORING and its
//     qosMonReports; unless "events" is given without QOS_MONITORING;
//   - PCF (TS 29.514 §4.2.5.2): QOS_MONITORING among evSubsc.events, every
//     repPeriod seconds of that event subscription, to
//     {evSubsc.notifUri}/notify as EventsNotification with evNotifs
//     QOS_MONITORING and qosMonReports naming the session's flows. Rel-17
//     MediaComponent has no QoS monitoring attribute; evSubsc.qosMon only
//     holds thresholds. The emulator reads an absent notifMethod as
//     PERIODIC; EVENT_DETECTION and ONE_TIME are not emulated.
//
// Without a period in the request, DefaultQoSMonitoringPeriod applies;
// Config.QoSMonitoringPeriod may impose one or switch reports off.
// Threshold-triggered reporting (EVENT_TRIGGERED, repThresh*) is not
// emulated.
//
// Each report holds the delays requested (reqQosMonParams; all three when
// absent), one value each, in whole milliseconds (TS 29.512
// QosMonitoringReport): per direction, the link's base delay, plus the mean
// delay of the impairment applied to the UE in that direction, plus what a
// packet of the session's flow would wait for the transmitter at that
// moment (see userplane.PacketDelay); round trip is the sum of the two
// reported one-way delays. It is the delay the link model imposes, not a
// measurement of packets.
//
// Reports are evidence, not events: they go through the notifier like the
// rest, but at most one per session per period, never while the session's
// previous report is still queued or being delivered, never retried, never
// when the notification queue is half full (the other half is kept for
// event notifications), and never once the session has ended.

// DefaultQoSMonitoringPeriod is the period of a session that asks for
// periodic reports without naming one.
const DefaultQoSMonitoringPeriod = time.Second

// QoSMonitoringTick is how often Serve sends the reports that are due: the
// granularity of their timing, and the shortest period that makes sense.
const QoSMonitoringTick = 100 * time.Millisecond

// qosMonitor is the reporting schedule, by session id.
type qosMonitor struct {
	mu       sync.Mutex
	sessions map[string]*monitored
	// skipping is set while reports are being skipped for a full queue,
	// so that the start and the end are logged, not every skip.
	skipping bool
}

// monitored is one session's schedule.
type monitored struct {
	period time.Duration
	next   time.Time
	// inFlight is set while the session's last report is queued or being
	// delivered.
	inFlight atomic.Bool
}

// qosMonRequest is what a session asks to be reported.
type qosMonRequest struct {
	period     time.Duration
	ul, dl, rt bool
}

// qosMonitoringOn tells whether reports may be sent at all.
func (s *Server) qosMonitoringOn() bool {
	return s.userPlane != nil && s.cfg.QoSMonitoringPeriod >= 0
}

// ReportQoSMonitoring sends the QoS monitoring reports that are due and
// tells how many it queued. Serve runs it every QoSMonitoringTick; tests
// with an injected clock call it directly. A session's first report is due
// one period after it is first seen here.
func (s *Server) ReportQoSMonitoring() int {
	if !s.qosMonitoringOn() {
		return 0
	}
	type due struct {
		rec *record
		req qosMonRequest
		m   *monitored
	}
	now := s.now()
	recs := s.store.list(nil)
	var todo []due
	mon := &s.userPlane.qosMon
	mon.mu.Lock()
	if mon.sessions == nil {
		mon.sessions = map[string]*monitored{}
	}
	asking := make(map[string]bool, len(recs))
	for _, rec := range recs {
		if !rec.ExpiresAt.After(now) {
			continue // ended; the next expiry scan removes it
		}
		req, ok := s.qosMonRequestOf(rec)
		if !ok {
			continue
		}
		asking[rec.ID] = true
		m := mon.sessions[rec.ID]
		if m == nil || m.period != req.period {
			mon.sessions[rec.ID] = &monitored{period: req.period, next: now.Add(req.period)}
			continue
		}
		if now.Before(m.next) {
			continue
		}
		// A late tick skips what it missed rather than catching up with a
		// burst: one report per period at most.
		m.next = m.next.Add(m.period)
		if !m.next.After(now) {
			m.next = now.Add(m.period)
		}
		todo = append(todo, due{rec, req, m})
	}
	for id := range mon.sessions {
		if !asking[id] {
			delete(mon.sessions, id) // ended, or no longer asks
		}
	}
	mon.mu.Unlock()

	sent, skipped := 0, 0
	for _, d := range todo {
		switch ok, queued := s.sendQoSMonReport(d.rec, d.req, d.m); {
		case queued:
			sent++
		case ok:
			skipped++
		}
	}
	mon.mu.Lock()
	switch {
	case skipped > 0 && !mon.skipping:
		mon.skipping = true
		s.log.Warn("QoS monitoring reports skipped: the notification queue is half full or the receivers are slow", "skipped", skipped)
	case skipped == 0 && sent > 0 && mon.skipping:
		mon.skipping = false
		s.log.Info("QoS monitoring reports flow again")
	}
	mon.mu.Unlock()
	return sent
}

// qosMonRequestOf is what a session asks to be reported; ok is false when
// it asks for no periodic delay report.
func (s *Server) qosMonRequestOf(rec *record) (req qosMonRequest, ok bool) {
	var requested int32
	var params []models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter
	switch rec.API {
	case APINEF:
		qm := rec.nef.QosMonInfo
		if qm == nil || !slices.Contains(qm.RepFreqs, models.Pcf_SMPolCtrl_ReportingFrequency_PERIODIC) {
			return req, false
		}
		if ev := rec.nef.Events; len(ev) > 0 && !slices.Contains(ev, models.Nef_AsSessQoS_UserPlaneEvent_QOS_MONITORING) {
			return req, false
		}
		requested, params = qm.RepPeriod, qm.ReqQosMonParams
	case APIPCF:
		es := rec.pcf.EvSubsc
		if es == nil || es.NotifUri == "" {
			return req, false
		}
		i := slices.IndexFunc(es.Events, func(e models.Pcf_PolAuth_AfEventSubscription) bool {
			return e.Event == models.Pcf_PolAuth_AfEvent_QOS_MONITORING
		})
		if i < 0 {
			return req, false
		}
		if m := es.Events[i].NotifMethod; m != "" && m != models.Pcf_PolAuth_AfNotifMethod_PERIODIC {
			return req, false
		}
		requested, params = es.Events[i].RepPeriod, es.ReqQosMonParams
	default:
		return req, false
	}
	req.ul, req.dl, req.rt = len(params) == 0, len(params) == 0, len(params) == 0
	for _, p := range params {
		switch p {
		case models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_UPLINK:
			req.ul = true
		case models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_DOWNLINK:
			req.dl = true
		case models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_ROUND_TRIP:
			req.rt = true
		}
	}
	if !req.ul && !req.dl && !req.rt {
		return req, false
	}
	switch {
	case s.cfg.QoSMonitoringPeriod > 0:
		req.period = s.cfg.QoSMonitoringPeriod
	case requested > 0:
		req.period = time.Duration(requested) * time.Second
	default:
		req.period = DefaultQoSMonitoringPeriod
	}
	return req, true
}

// packetDelays is the one-way delay the emulated link imposes on the
// session's packets now, per direction, in whole milliseconds; ok is false
// for a session the user plane does not carry (a MAC address).
func (s *Server) packetDelays(rec *record) (ul, dl int32, ok bool) {
	ue, err := netip.ParseAddr(rec.UEAddress)
	if err != nil {
		return 0, 0, false
	}
	fwd := s.userPlane.fwd
	ul = wholeMillis(fwd.FlowDelay(userplane.Uplink, ue, rec.ID).Total())
	dl = wholeMillis(fwd.FlowDelay(userplane.Downlink, ue, rec.ID).Total())
	return ul, dl, true
}

// wholeMillis rounds a delay to the nearest millisecond.
func wholeMillis(d time.Duration) int32 {
	return int32((max(d, 0) + time.Millisecond/2) / time.Millisecond)
}

// sendQoSMonReport queues one report: ok is false when the session has
// nothing to report, queued whether the report went into the queue.
func (s *Server) sendQoSMonReport(rec *record, req qosMonRequest, m *monitored) (ok, queued bool) {
	ul, dl, ok := s.packetDelays(rec)
	if !ok {
		return false, false
	}
	if !m.inFlight.CompareAndSwap(false, true) {
		return true, false
	}
	var ulDelays, dlDelays, rtDelays []int32
	if req.ul {
		ulDelays = []int32{ul}
	}
	if req.dl {
		dlDelays = []int32{dl}
	}
	if req.rt {
		rtDelays = []int32{ul + dl}
	}
	var target string
	var body any
	switch rec.API {
	case APINEF:
		target = rec.nef.NotificationDestination
		body = models.Nef_AsSessQoS_UserPlaneNotificationData{
			Transaction: rec.ResourceURI,
			EventReports: []models.Nef_AsSessQoS_UserPlaneEventReport{{
				Event: models.Nef_AsSessQoS_UserPlaneEvent_QOS_MONITORING,
				QosMonReports: []models.Nef_AsSessQoS_QosMonitoringReport{{
					UlDelays: ulDelays, DlDelays: dlDelays, RtDelays: rtDelays,
				}},
			}},
		}
	case APIPCF:
		target = joinCallback(rec.pcf.EvSubsc.NotifUri, "notify")
		body = models.Pcf_PolAuth_EventsNotification{
			EvSubsUri: rec.ResourceURI + "/events-subscription",
			EvNotifs:  []models.Pcf_PolAuth_AfEventNotification{{Event: models.Pcf_PolAuth_AfEvent_QOS_MONITORING}},
			QosMonReports: []models.Pcf_PolAuth_QosMonitoringReport{{
				Flows:    pcfFlows(rec.pcf.MedComponents),
				UlDelays: ulDelays, DlDelays: dlDelays, RtDelays: rtDelays,
			}},
		}
	}
	id := rec.ID
	queued = s.notifier.enqueueReport(target, body, id,
		func() bool { return s.store.get(id) != nil },
		func() { m.inFlight.Store(false) })
	if !queued {
		m.inFlight.Store(false)
	}
	return true, queued
}

// pcfFlows names every flow of a session (TS 29.514 Flows): one entry per
// media component with its sub-components' flow numbers.
func pcfFlows(mcs map[string]models.Pcf_PolAuth_MediaComponent) []models.Pcf_PolAuth_Flows {
	var out []models.Pcf_PolAuth_Flows
	for _, mc := range sortedMediaComponents(mcs) {
		f := models.Pcf_PolAuth_Flows{MedCompN: mc.MedCompN}
		for _, sc := range sortedSubComponents(mc.MedSubComps) {
			f.FNums = append(f.FNums, sc.FNum)
		}
		out = append(out, f)
	}
	return out
}

// enqueueReport queues a periodic report if the queue is less than half
// full, so that reports never take the room of event notifications. A
// report is tried once and dropped once live reports false; done is called
// when it is settled, if it was queued.
func (n *notifier) enqueueReport(target string, body any, session string, live func() bool, done func()) bool {
	if n.ctx.Err() != nil || 2*len(n.queue) >= cap(n.queue) {
		return false
	}
	b, err := json.Marshal(body)
	if err != nil {
		n.log.Error("encoding a QoS monitoring report", "session", session, "err", err)
		return false
	}
	n.pending.Add(1)
	select {
	case n.queue <- notification{
		url: target, body: b, gen: n.gen.Load(), session: session, what: "QOS_MONITORING",
		once: true, live: live, done: done,
	}:
		return true
	default:
		n.pending.Add(-1)
		return false
	}
}
