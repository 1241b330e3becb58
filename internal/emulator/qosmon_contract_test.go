package emulator_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/medslice/medslice/internal/emulator"
)

// TestContractQoSMonitoring: the QoS monitoring reports the emulator sends
// for sessions created by medslice's NEF and PCF clients (which ask for
// periodic UL, DL and round-trip delay reports every second) are valid
// TS 29.122 UserPlaneNotificationData and TS 29.514 EventsNotification
// bodies, and carry the delays of the emulated link.
func TestContractQoSMonitoring(t *testing.T) {
	const linkDelay = 4 * time.Millisecond
	e := newContractEnv(t, emulator.Capacity{}, func(c *emulator.Config) {
		c.UserPlane = emulator.UserPlaneConfig{Enabled: true, LinkDelay: linkDelay}
	})
	ctx := context.Background()
	if _, err := e.nef(t).Create(ctx, e.spec("robot-arm", "10.45.0.2", 10_000)); err != nil {
		t.Fatalf("NEF Create: %v", err)
	}
	e.notify.next(t, "UserPlaneNotificationData", "SUCCESSFUL_RESOURCES_ALLOCATION")
	if _, err := e.pcf(t).Create(ctx, e.spec("camera", "10.45.0.3", 10_000)); err != nil {
		t.Fatalf("PCF Create: %v", err)
	}
	e.notify.next(t, "EventsNotification", "SUCCESSFUL_RESOURCES_ALLOCATION")
	resp, err := http.Post(e.ts.URL+"/admin/v1/impairments", "application/json",
		strings.NewReader(`{"target": "10.45.0.3", "delay": "7ms", "direction": "uplink"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setting an impairment: %s", resp.Status)
	}
	e.notify.next(t, "EventsNotification", "QOS_NOTIF") // NOT_GUARANTEED, to the impaired UE's session

	if n := e.srv.ReportQoSMonitoring(); n != 0 {
		t.Fatalf("%d reports before a period passed", n)
	}
	e.clock.Advance(time.Second)
	if n := e.srv.ReportQoSMonitoring(); n != 2 {
		t.Fatalf("%d reports after a period, want 2", n)
	}
	want := map[string]map[string]any{
		"UserPlaneNotificationData": {"ulDelays": []any{4.0}, "dlDelays": []any{4.0}, "rtDelays": []any{8.0}},
		"EventsNotification":        {"ulDelays": []any{11.0}, "dlDelays": []any{4.0}, "rtDelays": []any{15.0}},
	}
	got := map[string]map[string]any{}
	for range 2 {
		var n sunk
		select {
		case n = <-e.notify.ch: // checked against its schema on receipt
		case <-time.After(contractWait):
			t.Fatalf("no QoS monitoring report within %s", contractWait)
		}
		var report map[string]any
		switch n.schema {
		case "UserPlaneNotificationData":
			er := n.body["eventReports"].([]any)[0].(map[string]any)
			if er["event"] != "QOS_MONITORING" {
				t.Errorf("NEF event report %v, want QOS_MONITORING", er)
			}
			report = er["qosMonReports"].([]any)[0].(map[string]any)
		case "EventsNotification":
			if ev := n.body["evNotifs"].([]any)[0].(map[string]any)["event"]; ev != "QOS_MONITORING" {
				t.Errorf("PCF event %v, want QOS_MONITORING", ev)
			}
			report = n.body["qosMonReports"].([]any)[0].(map[string]any)
			flows, _ := report["flows"].([]any)
			if len(flows) != 1 || flows[0].(map[string]any)["medCompN"] != 1.0 {
				t.Errorf("PCF report flows %v, want the one media component", report["flows"])
			}
			delete(report, "flows")
		default:
			t.Fatalf("a %s to %s, want a QoS monitoring report", n.schema, n.path)
		}
		got[n.schema] = report
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reports (-want +got):\n%s", diff)
	}
}
