package hostile

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/free5gc/openapi/models"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/notify"
)

// Inputs to the notification receiver: what a core, or someone pretending
// to be one, POSTs to the URIs the operator gave the core.

// refOf is the session of s's device, as the operator names it.
func refOf(s *v1alpha1.MedicalSlice) notify.Ref {
	return notify.Ref{Slice: types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, UID: s.UID, Device: device}
}

// pathOf is the path of a notification URI signed by signer for ref.
func pathOf(signer *notify.Signer, ref notify.Ref) string {
	u, _ := url.Parse(signer.URI("http://operator.example:8082", ref))
	return u.EscapedPath()
}

// notification is one POST to the receiver.
type notification struct {
	method      string
	path        string
	contentType string
	body        string
}

func (f *fixture) notify(t *testing.T, n notification) answer {
	t.Helper()
	if n.method == "" {
		n.method = http.MethodPost
	}
	req := httptest.NewRequest(n.method, "http://operator.example:8082"+n.path, strings.NewReader(n.body))
	if n.contentType != "" {
		req.Header.Set("Content-Type", n.contentType)
	}
	rec := httptest.NewRecorder()
	f.receiver.ServeHTTP(rec, req)
	var pd models.ProblemDetails
	msg := rec.Body.String()
	if json.Unmarshal(rec.Body.Bytes(), &pd) == nil && pd.Detail != "" {
		msg = pd.Detail
	}
	return answer{status: rec.Code, message: msg}
}

// Valid bodies, TS 29.122 UserPlaneNotificationData and TS 29.514
// EventsNotification / TerminationInfo, that a row spoils.
const (
	nefBody       = `{"transaction":"http://nef.example/3gpp-as-session-with-qos/v1/hospital-af/subscriptions/1","eventReports":[{"event":"QOS_NOT_GUARANTEED"}]}`
	pcfNotifyBody = `{"evSubsUri":"http://pcf.example/npcf-policyauthorization/v1/app-sessions/1/events-subscription","evNotifs":[{"event":"QOS_NOTIF"}],"qncReports":[{"notifType":"NOT_GUARANTEED"}]}`
)

func notificationInputs() []hostileInput {
	const area = "notification"
	// nefPath is or-a's booking's notification URI, as given to its core.
	nefPath := func(f *fixture) string { return pathOf(f.signer, refOf(f.sliceA)) }
	post := func(path func(*fixture) string, contentType, body string) func(*testing.T, *fixture) answer {
		return func(t *testing.T, f *fixture) answer {
			return f.notify(t, notification{path: path(f), contentType: contentType, body: body})
		}
	}
	suffixed := func(s notify.Suffix) func(*fixture) string {
		return func(f *fixture) string { return nefPath(f) + "/" + string(s) }
	}
	return []hostileInput{
		{
			area: area, name: "NEF notification with an unknown field",
			try:        post(nefPath, "application/json", `{"eventReports":[{"event":"QOS_GUARANTEED"}],"adminOverride":true}`),
			wantStatus: http.StatusBadRequest, want: `UserPlaneNotificationData: json: unknown field "adminOverride"`,
		},
		{
			area: area, name: "PCF event notification with an unknown field",
			try:        post(suffixed(notify.SuffixNotify), "application/json", `{"evNotifs":[{"event":"QOS_NOTIF"}],"grantAll":"yes"}`),
			wantStatus: http.StatusBadRequest, want: `EventsNotification: json: unknown field "grantAll"`,
		},
		{
			area: area, name: "PCF termination without a cause",
			try:        post(suffixed(notify.SuffixTerminate), "application/json", `{"resUri":"http://pcf.example/npcf-policyauthorization/v1/app-sessions/1"}`),
			wantStatus: http.StatusBadRequest, want: "TerminationInfo: termCause is required",
		},
		{
			area: area, name: "NEF notification body of 1 MiB",
			try: post(nefPath, "application/json",
				`{"eventReports":[{"event":"QOS_GUARANTEED"}],"transaction":"`+strings.Repeat("a", 1<<20)+`"}`),
			wantStatus: http.StatusRequestEntityTooLarge, want: "body larger than 65536 bytes",
		},
		{
			area: area, name: "NEF notification as text/plain",
			try:        post(nefPath, "text/plain", nefBody),
			wantStatus: http.StatusUnsupportedMediaType, want: `content type "text/plain" not supported: send application/json`,
		},
		{
			area: area, name: "PCF notification as a form",
			try:        post(suffixed(notify.SuffixNotify), "application/x-www-form-urlencoded", "evNotifs=QOS_NOTIF"),
			wantStatus: http.StatusUnsupportedMediaType, want: "not supported: send application/json",
		},
		{
			area: area, name: "notification without a content type",
			try:        post(nefPath, "", nefBody),
			wantStatus: http.StatusUnsupportedMediaType, want: `content type "" not supported: send application/json`,
		},
		{
			area: area, name: "forged token",
			try: post(func(f *fixture) string {
				p := nefPath(f)
				return p[:strings.LastIndex(p, "/")+1] + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			}, "application/json", nefBody),
			wantStatus: http.StatusNotFound, want: "unknown notification URI",
		},
		{
			area: area, name: "token of another key",
			try:        post(func(f *fixture) string { return pathOf(f.otherSigner, refOf(f.sliceA)) }, "application/json", nefBody),
			wantStatus: http.StatusNotFound, want: "unknown notification URI",
		},
		{
			area: area, name: "one team's token replayed on another team's slice",
			try: post(func(f *fixture) string {
				a, b := nefPath(f), pathOf(f.signer, refOf(f.sliceB))
				return b[:strings.LastIndex(b, "/")+1] + a[strings.LastIndex(a, "/")+1:]
			}, "application/json", nefBody),
			wantStatus: http.StatusNotFound, want: "unknown notification URI",
		},
		{
			area: area, name: "token replayed on a slice booked again under the same name (other UID)",
			try: post(func(f *fixture) string {
				p := nefPath(f)
				return strings.Replace(p, string(f.sliceA.UID), "00000000-0000-4000-8000-000000000000", 1)
			}, "application/json", nefBody),
			wantStatus: http.StatusNotFound, want: "unknown notification URI",
		},
		{
			area: area, name: "token replayed for another device of the slice",
			try: post(func(f *fixture) string {
				return strings.Replace(nefPath(f), "/"+device+"/", "/vision-cart/", 1)
			}, "application/json", nefBody),
			wantStatus: http.StatusNotFound, want: "unknown notification URI",
		},
		{
			area: area, name: "path with an unknown suffix",
			try:        post(func(f *fixture) string { return nefPath(f) + "/../../admin" }, "application/json", nefBody),
			wantStatus: http.StatusNotFound, want: "unknown notification URI",
		},
		{
			area: area, name: "notification by GET",
			try: func(t *testing.T, f *fixture) answer {
				return f.notify(t, notification{method: http.MethodGet, path: nefPath(f)})
			},
			wantStatus: http.StatusMethodNotAllowed, want: "method GET not allowed: notifications are POSTed",
		},
		{
			area: area, name: "NEF notification with a second object appended",
			try:        post(nefPath, "application/json", nefBody+`{"eventReports":[{"event":"SESSION_TERMINATION"}]}`),
			wantStatus: http.StatusBadRequest, want: "trailing data after the JSON object",
		},
		{
			area: area, name: "PCF notification with a stray brace after the object",
			try:        post(suffixed(notify.SuffixNotify), "application/json", pcfNotifyBody+" }"),
			wantStatus: http.StatusBadRequest, want: "EventsNotification: trailing data after the JSON object",
		},
		{
			area: area, name: "NEF notification without events",
			try:        post(nefPath, "application/json", `{"transaction":"http://nef.example/x","eventReports":[]}`),
			wantStatus: http.StatusBadRequest, want: "eventReports must list at least one event",
		},
		{
			area: area, name: "PCF notification without events",
			try:        post(suffixed(notify.SuffixNotify), "application/json", `{"evNotifs":[]}`),
			wantStatus: http.StatusBadRequest, want: "evNotifs must list at least one event",
		},
		{
			area: area, name: "NEF notification with an empty event name",
			try:        post(nefPath, "application/json", `{"eventReports":[{"event":""}]}`),
			wantStatus: http.StatusBadRequest, want: "event names must be non-empty 3GPP enum values",
		},
		{
			area: area, name: "NEF notification as a JSON array",
			try:        post(nefPath, "application/json", `[`+nefBody+`]`),
			wantStatus: http.StatusBadRequest, want: "UserPlaneNotificationData: json: cannot unmarshal array",
		},
		{
			area: area, name: "PCF body sent to the NEF path",
			try:        post(nefPath, "application/json", pcfNotifyBody),
			wantStatus: http.StatusBadRequest, want: `UserPlaneNotificationData: json: unknown field "evSubsUri"`,
		},
	}
}
