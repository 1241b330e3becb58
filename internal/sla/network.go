package sla

import (
	"time"
	"unicode/utf8"
)

// Report kinds the verdict reads: the UserPlaneEvent names of TS 29.122
// (NEF AsSessionWithQoS). A PCF (TS 29.514) reports the same through
// QOS_NOTIF with a qosNotifType of GUARANTEED or NOT_GUARANTEED; callers
// map it to these.
const (
	ReportQoSGuaranteed    = "QOS_GUARANTEED"
	ReportQoSNotGuaranteed = "QOS_NOT_GUARANTEED"
	// ReportQoSMonitoring is a QoS monitoring report (TS 29.122
	// QOS_MONITORING): evidence shown beside the probe figures, not judged.
	ReportQoSMonitoring = "QOS_MONITORING"
)

// maxDetailBytes bounds a report's detail, so that the report history stays
// small whatever the core sends.
const maxDetailBytes = 512

// NetworkReport is one piece of network-side evidence from the core.
type NetworkReport struct {
	// At is when the operator received it.
	At time.Time
	// Kind is the 3GPP event name, e.g. QOS_NOT_GUARANTEED.
	Kind string
	// Detail is the report's content for people (at most 512 bytes), such as
	// measured delays of a QoS monitoring report.
	Detail string
}

// AddNetworkReport records a report or notification from the core (DESIGN
// §5 "Network evidence"). A QOS_NOT_GUARANTEED not followed by a
// QOS_GUARANTEED received later makes the verdict NetworkNotGuaranteed;
// every kind is kept in a bounded history. Notifications are evidence, not
// truth (DESIGN §3): the core's word can only hold a GO back, never grant one.
func (t *Tracker) AddNetworkReport(at time.Time, kind, detail string) {
	r := NetworkReport{At: at, Kind: kind, Detail: truncateUTF8(detail, maxDetailBytes)}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.reports.push(r)
	switch kind {
	case ReportQoSNotGuaranteed:
		// Reports can arrive out of order; the latest by time decides.
		if t.notGuaranteed == nil || !at.Before(t.notGuaranteed.At) {
			t.notGuaranteed = &r
		}
	case ReportQoSGuaranteed:
		if at.After(t.guaranteedAt) {
			t.guaranteedAt = at
		}
	}
}

// NetworkReports returns the reports kept, oldest first.
func (t *Tracker) NetworkReports() []NetworkReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.reports.all()
}

// networkFailing returns the QOS_NOT_GUARANTEED that no later
// QOS_GUARANTEED cleared, or nil. At equal times the failure wins.
func (t *Tracker) networkFailing() *NetworkReport {
	if t.notGuaranteed == nil || t.guaranteedAt.After(t.notGuaranteed.At) {
		return nil
	}
	return t.notGuaranteed
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
