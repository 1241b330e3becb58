package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/free5gc/openapi/models"
	"github.com/go-logr/logr"
)

// MaxBodyBytes bounds a notification body. 3GPP notifications for one
// session are small; anything larger is refused before it is read.
const MaxBodyBytes = 64 << 10

// Event is one accepted notification. Its content is evidence, not truth:
// the reconciler confirms with the core before acting on it (DESIGN §3).
type Event struct {
	Ref      Ref
	Received time.Time
	// Events are the 3GPP event names reported, e.g.
	// SUCCESSFUL_RESOURCES_ALLOCATION, QOS_NOT_GUARANTEED, SESSION_TERMINATION.
	Events []string
	// Terminated is true when the core says the session has ended.
	Terminated bool
	// Reports is the QoS evidence in the notification, normalised across
	// NEF and PCF: kind QOS_GUARANTEED, QOS_NOT_GUARANTEED or QOS_MONITORING.
	Reports []Report
}

// Report is one piece of QoS evidence from the core.
type Report struct {
	Kind   string
	Detail string
}

// Evidence kinds.
const (
	ReportQoSGuaranteed    = "QOS_GUARANTEED"
	ReportQoSNotGuaranteed = "QOS_NOT_GUARANTEED"
	ReportQoSMonitoring    = "QOS_MONITORING"
)

// delays describes QoS monitoring delays (TS 29.512 QosMonitoringReport, ms).
func delays(ul, dl, rt []int32) string {
	return fmt.Sprintf("packet delay ms: uplink %v downlink %v round trip %v", ul, dl, rt)
}

// Outcome labels the result of one received notification, for metrics.
type Outcome string

const (
	OutcomeAccepted     Outcome = "accepted"
	OutcomeUnauthorized Outcome = "unauthorized"
	OutcomeMalformed    Outcome = "malformed"
)

// Receiver is the HTTP handler for core callbacks. It authenticates every
// notification by its token before reading the body.
type Receiver struct {
	Signer *Signer
	// Deliver is called for every accepted notification; it must not block.
	Deliver func(Event)
	// Observe, when set, is told the outcome of every request.
	Observe func(Outcome)
	Now     func() time.Time
	Log     logr.Logger
}

// 3GPP event names the receiver reports as terminations.
const (
	eventSessionTermination = "SESSION_TERMINATION" // TS 29.122 UserPlaneEvent
)

func (rc *Receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, status, err := rc.receive(r)
	outcome := OutcomeAccepted
	switch {
	case status == http.StatusForbidden || status == http.StatusNotFound:
		outcome = OutcomeUnauthorized
	case err != nil:
		outcome = OutcomeMalformed
	}
	if rc.Observe != nil {
		rc.Observe(outcome)
	}
	if err != nil {
		rc.Log.V(1).Info("notification refused", "status", status, "reason", err.Error(), "remote", r.RemoteAddr)
		writeProblem(w, status, err.Error())
		return
	}
	rc.Deliver(ev)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *Receiver) receive(r *http.Request) (Event, int, error) {
	if r.Method != http.MethodPost {
		return Event{}, http.StatusMethodNotAllowed, fmt.Errorf("method %s not allowed: notifications are POSTed", r.Method)
	}
	// Authenticate first: an unauthenticated sender learns nothing, not even
	// whether its body would have parsed. 404 rather than 401 so that a
	// guessed path is indistinguishable from no path.
	ref, suffix, err := rc.Signer.Verify(r.URL.EscapedPath())
	if err != nil {
		return Event{}, http.StatusNotFound, errors.New("unknown notification URI")
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return Event{}, http.StatusUnsupportedMediaType, fmt.Errorf("content type %q not supported: send application/json", r.Header.Get("Content-Type"))
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBodyBytes))
	if err != nil {
		return Event{}, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", MaxBodyBytes)
	}
	ev := Event{Ref: ref, Received: rc.Now()}
	switch suffix {
	case SuffixTerminate: // TS 29.514 §5.5.3: PCF asks the AF to end the app session.
		var ti models.Pcf_PolAuth_TerminationInfo
		if err := decodeStrict(body, &ti); err != nil {
			return Event{}, http.StatusBadRequest, fmt.Errorf("TerminationInfo: %w", err)
		}
		if ti.TermCause == "" {
			return Event{}, http.StatusBadRequest, errors.New("TerminationInfo: termCause is required")
		}
		ev.Events = []string{string(ti.TermCause)}
		ev.Terminated = true
	case SuffixNotify: // TS 29.514 §5.5.2: PCF event notification.
		var en models.Pcf_PolAuth_EventsNotification
		if err := decodeStrict(body, &en); err != nil {
			return Event{}, http.StatusBadRequest, fmt.Errorf("EventsNotification: %w", err)
		}
		if len(en.EvNotifs) == 0 {
			return Event{}, http.StatusBadRequest, errors.New("EventsNotification: evNotifs must list at least one event")
		}
		for _, n := range en.EvNotifs {
			ev.Events = append(ev.Events, string(n.Event))
		}
		// TS 29.514 §5.6.2.x: QOS_NOTIF carries qncReports with the notifType.
		for _, q := range en.QncReports {
			switch q.NotifType {
			case "NOT_GUARANTEED":
				ev.Reports = append(ev.Reports, Report{Kind: ReportQoSNotGuaranteed, Detail: "PCF QoS notification control"})
			case "GUARANTEED":
				ev.Reports = append(ev.Reports, Report{Kind: ReportQoSGuaranteed, Detail: "PCF QoS notification control"})
			}
		}
		for _, m := range en.QosMonReports {
			ev.Reports = append(ev.Reports, Report{Kind: ReportQoSMonitoring, Detail: delays(m.UlDelays, m.DlDelays, m.RtDelays)})
		}
	default: // TS 29.122 §5.14.2.1.3: NEF UserPlaneNotificationData.
		var un models.Nef_AsSessQoS_UserPlaneNotificationData
		if err := decodeStrict(body, &un); err != nil {
			return Event{}, http.StatusBadRequest, fmt.Errorf("UserPlaneNotificationData: %w", err)
		}
		if len(un.EventReports) == 0 {
			return Event{}, http.StatusBadRequest, errors.New("UserPlaneNotificationData: eventReports must list at least one event")
		}
		for _, er := range un.EventReports {
			ev.Events = append(ev.Events, string(er.Event))
			switch er.Event {
			case eventSessionTermination:
				ev.Terminated = true
			case ReportQoSGuaranteed, ReportQoSNotGuaranteed: // TS 29.122 UserPlaneEvent
				ev.Reports = append(ev.Reports, Report{Kind: string(er.Event), Detail: "NEF user plane event"})
			}
			for _, m := range er.QosMonReports {
				ev.Reports = append(ev.Reports, Report{Kind: ReportQoSMonitoring, Detail: delays(m.UlDelays, m.DlDelays, m.RtDelays)})
			}
		}
	}
	for _, e := range ev.Events {
		if e == "" || len(e) > 64 {
			return Event{}, http.StatusBadRequest, errors.New("event names must be non-empty 3GPP enum values")
		}
	}
	return ev, http.StatusNoContent, nil
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	// Anything but the end of the body after the object is refused; More
	// would miss a stray '}' or ']'.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// writeProblem answers with a TS 29.571 ProblemDetails.
func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(models.ProblemDetails{
		Title:  http.StatusText(status),
		Status: int32(status),
		Detail: detail,
	})
}
