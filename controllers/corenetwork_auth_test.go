package controllers

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/emulator"
)

// oauth2Emulator is a core emulator, apart from the suite's, that demands
// OAuth2 bearer tokens from its own token endpoint.
type oauth2Emulator struct {
	url string

	mu      sync.Mutex
	secrets []string
}

func startOAuth2Emulator(t *testing.T, secret string) *oauth2Emulator {
	t.Helper()
	e := &oauth2Emulator{secrets: []string{secret}}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := emulator.New(emulator.Config{Logger: logger, Auth: emulator.AuthConfig{
		Clients: func() (map[string][]string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			return map[string][]string{"medslice": append([]string(nil), e.secrets...)}, nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := emulator.NewHTTPServer(srv.Handler(), logger)
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close(); srv.Close() })
	e.url = "http://" + ln.Addr().String()
	return e
}

func (e *oauth2Emulator) sessions(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(e.url + "/admin/v1/sessions")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return len(out)
}

// condition returns a condition of obj's status as "Status Reason: Message".
func conditionOf(conds []metav1.Condition, typ string) (*metav1.Condition, string) {
	c := meta.FindStatusCondition(conds, typ)
	if c == nil {
		return nil, typ + " not set"
	}
	return c, fmt.Sprintf("%s %s: %s", c.Status, c.Reason, c.Message)
}

// TestCoreNetworkAuthFailed protects what a person sees when a core's
// credentials are wrong: the CoreNetwork's Reachable condition says
// AuthFailed and what to fix (a missing Secret, then a refused client
// secret), slices on it wait without anything provisioned, and fixing the
// Secret is noticed at once and provisions them, without a restart.
func TestCoreNetworkAuthFailed(t *testing.T) {
	emu := startOAuth2Emulator(t, "s3cret")
	const secretName = "auth-pcf-oauth2"
	cn := &v1alpha1.CoreNetwork{ObjectMeta: metav1.ObjectMeta{Name: "auth-pcf"}}
	cn.Spec = v1alpha1.CoreNetworkSpec{
		API: v1alpha1.CoreAPIPCF, Endpoint: emu.url, NotificationBaseURL: "http://127.0.0.1:1",
		Auth: v1alpha1.CoreAuth{OAuth2: &v1alpha1.SecretKeyRef{Name: secretName}},
	}
	if err := env.Client.Create(ctx, cn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, cn) })

	reachable := func(wantStatus metav1.ConditionStatus, wantReason string, wantText ...string) {
		t.Helper()
		eventually(t, "CoreNetwork "+cn.Name+" Reachable "+string(wantStatus)+" "+wantReason, func() error {
			var got v1alpha1.CoreNetwork
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cn), &got); err != nil {
				return err
			}
			c, desc := conditionOf(got.Status.Conditions, v1alpha1.ConditionReachable)
			if c == nil || c.Status != wantStatus || c.Reason != wantReason {
				return fmt.Errorf("Reachable is %s", desc)
			}
			for _, w := range wantText {
				if !strings.Contains(c.Message, w) {
					return fmt.Errorf("Reachable message %q lacks %q", c.Message, w)
				}
			}
			t.Logf("Reachable: %s", desc)
			return nil
		})
	}
	reachable(metav1.ConditionFalse, v1alpha1.ReasonAuthFailed,
		"Secret medslice-system/auth-pcf-oauth2 named by spec.auth.oauth2 does not exist", "tokenURL, clientID and clientSecret")

	s := newSlice("or-1", "on-auth-core", cn.Name).device("arm", "10.45.9.1").obj()
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, s) })
	provisioned := func(want metav1.ConditionStatus, wantText string) {
		t.Helper()
		eventually(t, "slice Provisioned "+string(want), func() error {
			var got v1alpha1.MedicalSlice
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), &got); err != nil {
				return err
			}
			c, desc := conditionOf(got.Status.Conditions, v1alpha1.ConditionProvisioned)
			if c == nil || c.Status != want || !strings.Contains(c.Message, wantText) {
				return fmt.Errorf("Provisioned is %s, want %s with %q", desc, want, wantText)
			}
			return nil
		})
	}
	provisioned(metav1.ConditionFalse, "does not exist")
	if n := emu.sessions(t); n != 0 {
		t.Fatalf("the core holds %d sessions without credentials", n)
	}

	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: operatorNamespace, Name: secretName},
		StringData: map[string]string{"tokenURL": emu.url + "/oauth2/token", "clientID": "medslice", "clientSecret": "wrong"},
	}
	if err := env.Client.Create(ctx, sec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, sec) })
	start := time.Now()
	reachable(metav1.ConditionFalse, v1alpha1.ReasonAuthFailed,
		"refused client \"medslice\"", "invalid_client", "check clientID and clientSecret in Secret medslice-system/auth-pcf-oauth2")
	t.Logf("wrong client secret reported %s after the Secret was created", time.Since(start).Round(time.Millisecond))
	provisioned(metav1.ConditionFalse, "invalid_client")
	if n := emu.sessions(t); n != 0 {
		t.Fatalf("the core holds %d sessions though it refused the client", n)
	}

	sec.StringData = map[string]string{"clientSecret": "s3cret"}
	if err := env.Client.Update(ctx, sec); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	reachable(metav1.ConditionTrue, v1alpha1.ReasonAPIAnswered)
	t.Logf("fixed client secret noticed %s after the Secret was updated", time.Since(start).Round(time.Millisecond))
	provisioned(metav1.ConditionTrue, "1 of 1 sessions confirmed")
	t.Logf("slice provisioned %s after the Secret was updated", time.Since(start).Round(time.Millisecond))
	if n := emu.sessions(t); n != 1 {
		t.Errorf("the core holds %d sessions, want 1", n)
	}

	if err := env.Client.Delete(ctx, s); err != nil {
		t.Fatal(err)
	}
	eventually(t, "sessions released", func() error {
		if n := emu.sessions(t); n != 0 {
			return fmt.Errorf("%d sessions left", n)
		}
		return nil
	})
}
