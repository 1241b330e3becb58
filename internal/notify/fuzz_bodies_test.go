package notify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/free5gc/openapi/models"
	"github.com/go-logr/logr"
)

// The bodies a core sends, each kind on the URI the receiver gave it: NEF
// UserPlaneNotificationData (TS 29.122 §5.14.2.1.3) and PCF
// EventsNotification and TerminationInfo (TS 29.514 §5.5.2, §5.5.3).
// Seeds, shaped like what NEFs and PCFs send, are in testdata/fuzz.

// FuzzNEFNotification: whatever a NEF (or anyone holding the URI) POSTs,
// the receiver answers 204 and delivers exactly one event that reports
// what the body said, or refuses it with a ProblemDetails that says why
// and delivers nothing.
func FuzzNEFNotification(f *testing.F) {
	f.Add([]byte(`{"transaction":"http://nef.example/3gpp-as-session-with-qos/v1/hospital-af/subscriptions/7","eventReports":[{"event":"SUCCESSFUL_RESOURCES_ALLOCATION","flowIds":[1,2]}]}`))
	f.Add([]byte(`{"eventReports":[{"event":"QOS_MONITORING","qosMonReports":[{"ulDelays":[4],"dlDelays":[5],"rtDelays":[9]}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, ok := receiveFuzzed(t, "", body)
		if !ok {
			return
		}
		var un models.Nef_AsSessQoS_UserPlaneNotificationData
		if err := json.Unmarshal(body, &un); err != nil {
			t.Fatalf("accepted a body that is not UserPlaneNotificationData (%v): %q", err, body)
		}
		if len(ev.Events) != len(un.EventReports) {
			t.Fatalf("%d events delivered for %d event reports", len(ev.Events), len(un.EventReports))
		}
		terminated := false
		for i, er := range un.EventReports {
			if ev.Events[i] != string(er.Event) {
				t.Fatalf("event %d delivered as %q, sent as %q", i, ev.Events[i], er.Event)
			}
			terminated = terminated || er.Event == eventSessionTermination
		}
		if ev.Terminated != terminated {
			t.Fatalf("Terminated = %v for events %v", ev.Terminated, ev.Events)
		}
		checkReports(t, ev)
	})
}

// FuzzPCFNotification: the same promise for a PCF's event notifications
// (/notify) and termination requests (/terminate); only a termination
// ends the session.
func FuzzPCFNotification(f *testing.F) {
	f.Add(false, []byte(`{"evSubsUri":"http://pcf.example/npcf-policyauthorization/v1/app-sessions/3/events-subscription","evNotifs":[{"event":"QOS_NOTIF"}],"qncReports":[{"notifType":"GUARANTEED"}]}`))
	f.Add(true, []byte(`{"termCause":"PDU_SESSION_TERMINATION","resUri":"http://pcf.example/npcf-policyauthorization/v1/app-sessions/3"}`))
	f.Fuzz(func(t *testing.T, terminate bool, body []byte) {
		suffix := "/" + string(SuffixNotify)
		if terminate {
			suffix = "/" + string(SuffixTerminate)
		}
		ev, ok := receiveFuzzed(t, suffix, body)
		if !ok {
			return
		}
		if terminate {
			var ti models.Pcf_PolAuth_TerminationInfo
			if err := json.Unmarshal(body, &ti); err != nil || ti.TermCause == "" {
				t.Fatalf("accepted a termination without a cause (%v): %q", err, body)
			}
			if !ev.Terminated || !slices.Equal(ev.Events, []string{string(ti.TermCause)}) {
				t.Fatalf("termination %q delivered as events %v, terminated %v", ti.TermCause, ev.Events, ev.Terminated)
			}
			return
		}
		var en models.Pcf_PolAuth_EventsNotification
		if err := json.Unmarshal(body, &en); err != nil || len(en.EvNotifs) == 0 {
			t.Fatalf("accepted an EventsNotification without events (%v): %q", err, body)
		}
		if ev.Terminated {
			t.Fatalf("an event notification ended the session: %v", ev.Events)
		}
		if len(ev.Events) != len(en.EvNotifs) {
			t.Fatalf("%d events delivered for %d notified", len(ev.Events), len(en.EvNotifs))
		}
		checkReports(t, ev)
	})
}

// receiveFuzzed POSTs body to the test ref's URI plus suffix. It checks
// what holds for every answer and returns the delivered event when the
// body was accepted.
func receiveFuzzed(t *testing.T, suffix string, body []byte) (Event, bool) {
	t.Helper()
	s, err := NewSigner(testKey)
	if err != nil {
		t.Fatal(err)
	}
	var delivered []Event
	var outcomes []Outcome
	now := time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)
	rc := &Receiver{
		Signer: s, Log: logr.Discard(), Now: func() time.Time { return now },
		Deliver: func(ev Event) { delivered = append(delivered, ev) },
		Observe: func(o Outcome) { outcomes = append(outcomes, o) },
	}
	req := httptest.NewRequest(http.MethodPost, "http://h"+mustPath(s.URI("http://h", testRef()))+suffix, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	rc.ServeHTTP(rec, req)
	if len(outcomes) != 1 {
		t.Fatalf("%d outcomes observed for one request", len(outcomes))
	}
	if rec.Code != http.StatusNoContent {
		if len(delivered) != 0 {
			t.Fatalf("status %d but %d deliveries", rec.Code, len(delivered))
		}
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d for a body on a valid URI: only 400 and 413 are the body's fault", rec.Code)
		}
		var pd models.ProblemDetails
		if err := json.Unmarshal(rec.Body.Bytes(), &pd); err != nil || pd.Detail == "" || int(pd.Status) != rec.Code {
			t.Fatalf("refusal %d without a ProblemDetails that says why: %q", rec.Code, rec.Body.String())
		}
		if outcomes[0] != OutcomeMalformed {
			t.Fatalf("a refused body counted as %s", outcomes[0])
		}
		return Event{}, false
	}
	if len(delivered) != 1 || outcomes[0] != OutcomeAccepted {
		t.Fatalf("204 with %d deliveries, outcome %s", len(delivered), outcomes[0])
	}
	ev := delivered[0]
	if ev.Ref != testRef() || !ev.Received.Equal(now) {
		t.Fatalf("delivered for %+v at %s, want the URI's ref at the receiver's time", ev.Ref, ev.Received)
	}
	if len(ev.Events) == 0 {
		t.Fatalf("accepted without events")
	}
	for _, e := range ev.Events {
		if e == "" || len(e) > 64 {
			t.Fatalf("accepted event name %q", e)
		}
	}
	return ev, true
}

// checkReports: QoS evidence is only of the three kinds the reconciler
// and the SLA page understand.
func checkReports(t *testing.T, ev Event) {
	t.Helper()
	for _, r := range ev.Reports {
		switch r.Kind {
		case ReportQoSGuaranteed, ReportQoSNotGuaranteed, ReportQoSMonitoring:
		default:
			t.Fatalf("report of kind %q", r.Kind)
		}
		if r.Detail == "" {
			t.Fatalf("report %s without detail", r.Kind)
		}
	}
}
