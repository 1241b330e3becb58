package hostile

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
)

// Inputs to the API server: objects a person or a script might apply,
// checked by the CRDs' schema and CEL rules and by RBAC.

const slicesPath = "/apis/medslice.io/v1alpha1/namespaces/" + nsA + "/medicalslices"

// sliceJSON is a valid new slice of or-a as a JSON object, for a row to
// change.
func sliceJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	s := validSlice(nsA, name)
	s.APIVersion, s.Kind = v1alpha1.GroupVersion.String(), "MedicalSlice"
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
	if err != nil {
		t.Fatal(err)
	}
	delete(u, "status")
	delete(u["metadata"].(map[string]any), "creationTimestamp")
	return u
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// createStrict POSTs a slice with strict field validation, as `kubectl
// apply --validate=strict` (the default) does.
func (f *fixture) createStrict(t *testing.T, body []byte) answer {
	return f.apiRaw(t, http.MethodPost, slicesPath+"?fieldValidation=Strict", body, "application/json")
}

func (f *fixture) createSlice(t *testing.T, c client.Client, change func(*v1alpha1.MedicalSlice)) answer {
	t.Helper()
	s := validSlice(nsA, "hostile-slice")
	change(s)
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	return apiAnswer(c.Create(ctx, s))
}

func (f *fixture) createProfile(t *testing.T, change func(*v1alpha1.SliceProfile)) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var p v1alpha1.SliceProfile
	if err := f.admin.Get(ctx, types.NamespacedName{Name: "surgery-urllc"}, &p); err != nil {
		t.Fatal(err)
	}
	n := &v1alpha1.SliceProfile{ObjectMeta: metav1.ObjectMeta{Name: "hostile-profile"}, Spec: *p.Spec.DeepCopy()}
	change(n)
	return apiAnswer(f.admin.Create(ctx, n))
}

func (f *fixture) createCore(t *testing.T, change func(*v1alpha1.CoreNetwork)) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	c := &v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: "hostile-core"}}
	c.Spec = v1alpha1.CoreNetworkSpec{
		API: v1alpha1.CoreAPINEF, Endpoint: "https://nef.carrier.example:8443", AFID: "hospital-af",
		NotificationBaseURL: "http://medslice-notify.medslice-system:8082",
	}
	change(c)
	return apiAnswer(f.admin.Create(ctx, c))
}

// updateSlice changes or-a's booking as c.
func (f *fixture) updateSlice(t *testing.T, c client.Client, change func(*v1alpha1.MedicalSlice)) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var s v1alpha1.MedicalSlice
	if err := f.admin.Get(ctx, client.ObjectKeyFromObject(f.sliceA), &s); err != nil {
		t.Fatal(err)
	}
	change(&s)
	return apiAnswer(c.Update(ctx, &s))
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func apiInputs() []hostileInput {
	const area = "api"
	return []hostileInput{
		{
			area: area, name: "slice with an unknown field (strict decoding)",
			try: func(t *testing.T, f *fixture) answer {
				u := sliceJSON(t, "unknown-field")
				u["spec"].(map[string]any)["patientName"] = "Jane Doe"
				return f.createStrict(t, mustJSON(t, u))
			},
			wantStatus: http.StatusBadRequest, want: `unknown field "spec.patientName"`,
		},
		{
			area: area, name: "slice with an unknown field inside a device (strict decoding)",
			try: func(t *testing.T, f *fixture) answer {
				u := sliceJSON(t, "unknown-device-field")
				dev := u["spec"].(map[string]any)["devices"].([]any)[0].(map[string]any)
				dev["imei"] = "490154203237518"
				return f.createStrict(t, mustJSON(t, u))
			},
			wantStatus: http.StatusBadRequest, want: `unknown field "spec.devices[0].imei"`,
		},
		{
			area: area, name: "slice with a field given twice (strict decoding)",
			try: func(t *testing.T, f *fixture) answer {
				body := mustJSON(t, sliceJSON(t, "duplicate-field"))
				// The second purpose would win silently without strict decoding.
				body = []byte(strings.Replace(string(body), `"purpose":`, `"purpose":"<script>alert(1)</script>","purpose":`, 1))
				return f.createStrict(t, body)
			},
			wantStatus: http.StatusBadRequest, want: `strict decoding error: duplicate field "spec.purpose"`,
		},
		{
			area: area, name: "slice whose purpose is a script",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.Purpose = `<script>alert(document.cookie)</script>` })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "purpose is plain text: remove < and >",
		},
		{
			area: area, name: "slice whose purpose is an HTML element with an event handler",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.Purpose = `OR-3 <img src=x onerror=alert(1)>` })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "purpose is plain text: remove < and >",
		},
		{
			area: area, name: "slice with a 10,000-character purpose",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.Purpose = strings.Repeat("a", 10_000) })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "spec.purpose: Too long: may not be more than 256",
		},
		{
			area: area, name: "slice body of 4 MiB",
			try: func(t *testing.T, f *fixture) answer {
				u := sliceJSON(t, "huge-body")
				u["metadata"].(map[string]any)["annotations"] = map[string]any{"padding": strings.Repeat("x", 4<<20)}
				return f.createStrict(t, mustJSON(t, u))
			},
			wantStatus: http.StatusRequestEntityTooLarge, want: "limit is 3145728",
		},
		{
			area: area, name: "slice with 1,000 devices",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) {
					s.Spec.Devices = nil
					for i := range 1000 {
						s.Spec.Devices = append(s.Spec.Devices, v1alpha1.Device{Name: fmt.Sprintf("d%d", i), IPv4: fmt.Sprintf("10.45.%d.%d", i/250, i%250+1)})
					}
				})
			},
			wantStatus: http.StatusUnprocessableEntity, want: "spec.devices: Too many: 1000: must have at most 32 items",
		},
		{
			area: area, name: "slice with a 300-character name",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Name = strings.Repeat("a", 300) })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "must be no more than 253 characters",
		},
		{
			area: area, name: "slice referring to a core in another namespace",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.CoreRef = "kube-system/" + campusCore })
			},
			wantStatus: http.StatusUnprocessableEntity, want: `spec.coreRef: Invalid value: "kube-system/campus-core"`,
		},
		{
			area: area, name: "slice referring to a profile by a path",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.Profile = "../../or-b/surgery-urllc" })
			},
			wantStatus: http.StatusUnprocessableEntity, want: `spec.profile: Invalid value: "../../or-b/surgery-urllc"`,
		},
		{
			area: area, name: "slice with a negative lead time",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.Schedule.LeadTime = dur(-15 * time.Minute) })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "leadTime must be a duration from 0s to 24h, such as 15m",
		},
		{
			area: area, name: "slice with a lead time of a century",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.Schedule.LeadTime = dur(876000 * time.Hour) })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "leadTime must be a duration from 0s to 24h, such as 15m",
		},
		{
			area: area, name: "slice with a lead time in ISO 8601",
			try: func(t *testing.T, f *fixture) answer {
				u := sliceJSON(t, "iso-lead-time")
				u["spec"].(map[string]any)["schedule"].(map[string]any)["leadTime"] = "PT15M"
				return f.createStrict(t, mustJSON(t, u))
			},
			wantStatus: http.StatusUnprocessableEntity, want: "leadTime must be a duration from 0s to 24h, such as 15m",
		},
		{
			area: area, name: "slice ending before it starts",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) {
					s.Spec.Schedule.End = metav1.NewTime(s.Spec.Schedule.Start.Add(-time.Hour))
				})
			},
			wantStatus: http.StatusUnprocessableEntity, want: "schedule.end must be after schedule.start",
		},
		{
			area: area, name: "slice with a shell command in a device address",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.Devices[0].IPv4 = "10.0.0.7;id" })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "ipv4 must be an IPv4 address such as 10.45.0.7",
		},
		{
			area: area, name: "slice with a header injection in its DNN",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) { s.Spec.DNN = "hospital\r\nX-Injected: 1" })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "dnn must be a data network name such as hospital or internet",
		},
		{
			area: area, name: "slice probing a URL instead of host:port",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.admin, func(s *v1alpha1.MedicalSlice) {
					s.Spec.Probe = &v1alpha1.ProbeTarget{Target: "http://169.254.169.254:80/latest/meta-data"}
				})
			},
			wantStatus: http.StatusUnprocessableEntity, want: "probe.target must be host:port with a port from 1 to 65535",
		},
		{
			area: area, name: "booking in another team's namespace",
			try: func(t *testing.T, f *fixture) answer {
				return f.createSlice(t, f.asA, func(s *v1alpha1.MedicalSlice) { s.Namespace = nsB })
			},
			wantStatus: http.StatusForbidden, want: `User "system:serviceaccount:or-a:user-a" cannot create resource "medicalslices" in API group "medslice.io" in the namespace "or-b"`,
		},
		{
			area: area, name: "requester forging GO in its slice's status",
			try: func(t *testing.T, f *fixture) answer {
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				defer cancel()
				var s v1alpha1.MedicalSlice
				if err := f.admin.Get(ctx, client.ObjectKeyFromObject(f.sliceA), &s); err != nil {
					t.Fatal(err)
				}
				patch := client.MergeFrom(s.DeepCopy())
				s.Status.Conditions = append(s.Status.Conditions, metav1.Condition{
					Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "GO", Message: "trust me", LastTransitionTime: metav1.Now(),
				})
				return apiAnswer(f.asA.Status().Patch(ctx, &s, patch))
			},
			wantStatus: http.StatusForbidden, want: `cannot patch resource "medicalslices/status"`,
		},
		{
			area: area, name: "requester lowering a profile's targets",
			try: func(t *testing.T, f *fixture) answer {
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				defer cancel()
				var p v1alpha1.SliceProfile
				if err := f.admin.Get(ctx, types.NamespacedName{Name: "surgery-urllc"}, &p); err != nil {
					t.Fatal(err)
				}
				p.Spec.SLA.RTTP99 = dur(10 * time.Second)
				return apiAnswer(f.asA.Update(ctx, &p))
			},
			wantStatus: http.StatusForbidden, want: `cannot update resource "sliceprofiles"`,
		},
		{
			area: area, name: "requester forging an SLA report",
			try: func(t *testing.T, f *fixture) answer {
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				defer cancel()
				rep, err := sealedReport(f.sliceA)
				if err != nil {
					t.Fatal(err)
				}
				rep.Name = "forged-report"
				return apiAnswer(f.asA.Create(ctx, rep))
			},
			wantStatus: http.StatusForbidden, want: `cannot create resource "slareports"`,
		},
		{
			area: area, name: "rewriting a sealed SLA report's figures",
			try: func(t *testing.T, f *fixture) answer {
				ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
				defer cancel()
				var r v1alpha1.SLAReport
				if err := f.admin.Get(ctx, types.NamespacedName{Namespace: nsA, Name: reportA}, &r); err != nil {
					t.Fatal(err)
				}
				r.Spec.Measured.RTTP99 = "1ms"
				r.Spec.Rollups[0].RTTP99 = "1ms"
				return apiAnswer(f.admin.Update(ctx, &r))
			},
			wantStatus: http.StatusUnprocessableEntity, want: v1alpha1.SLAReportImmutableMessage,
		},
		{
			area: area, name: "moving a booked slice to another core",
			try: func(t *testing.T, f *fixture) answer {
				return f.updateSlice(t, f.asA, func(s *v1alpha1.MedicalSlice) { s.Spec.CoreRef = "carrier-nef" })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "coreRef cannot change: delete the slice and create one on the other core",
		},
		{
			area: area, name: "profile with a verification period in days",
			try: func(t *testing.T, f *fixture) answer {
				return f.createProfile(t, func(p *v1alpha1.SliceProfile) {
					p.Spec.SLA.VerificationPeriod = dur(30 * 24 * time.Hour)
				})
			},
			wantStatus: http.StatusUnprocessableEntity, want: "verificationPeriod must be a duration from 1s to 24h, such as 30s",
		},
		{
			area: area, name: "profile probing every nanosecond",
			try: func(t *testing.T, f *fixture) answer {
				return f.createProfile(t, func(p *v1alpha1.SliceProfile) { p.Spec.Probe.Interval = dur(time.Nanosecond) })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "interval must be a duration from 10ms to 1m, such as 100ms",
		},
		{
			area: area, name: "core whose endpoint is a script URL",
			try: func(t *testing.T, f *fixture) answer {
				return f.createCore(t, func(c *v1alpha1.CoreNetwork) { c.Spec.Endpoint = "javascript:alert(1)" })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "endpoint must be an http:// or https:// URL with a host",
		},
		{
			area: area, name: "core sending notifications to a file",
			try: func(t *testing.T, f *fixture) answer {
				return f.createCore(t, func(c *v1alpha1.CoreNetwork) { c.Spec.NotificationBaseURL = "file:///etc/passwd" })
			},
			wantStatus: http.StatusUnprocessableEntity, want: "notificationBaseURL must be an http:// or https:// URL with a host the core can reach",
		},
		{
			area: area, name: "core credentials from a Secret in another namespace",
			try: func(t *testing.T, f *fixture) answer {
				return f.createCore(t, func(c *v1alpha1.CoreNetwork) {
					c.Spec.Auth.OAuth2 = &v1alpha1.SecretKeyRef{Name: "kube-system/bootstrap-token"}
				})
			},
			wantStatus: http.StatusUnprocessableEntity, want: `spec.auth.oauth2.name: Invalid value: "kube-system/bootstrap-token"`,
		},
	}
}
