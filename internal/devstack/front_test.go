package devstack

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The front spreads connections over the replicas that accept them and
// skips one that is down, as a Service skips a pod that is not ready.
func TestFrontSkipsReplicasThatAreDown(t *testing.T) {
	replica := func(name string) *httptest.Server {
		return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) }))
	}
	a, b := replica("a"), replica("b")
	defer a.Close()
	s := &Stack{Options: Options{Log: io.Discard}, replicas: []*Replica{{NotifyURL: a.URL}, {Index: 1, NotifyURL: b.URL}}}
	url, err := s.startFront(func(r *Replica) string { return r.NotifyURL })
	if err != nil {
		t.Fatal(err)
	}
	defer s.fronts[0].close()
	answers := func() map[string]int {
		got := map[string]int{}
		for range 6 {
			// A new connection each time: the front chooses per connection.
			c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := c.Get(url)
			if err != nil {
				got["error: "+err.Error()]++
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got[string(body)]++
		}
		return got
	}
	if got := answers(); got["a"] != 3 || got["b"] != 3 {
		t.Errorf("both replicas up: answers %v, want 3 from each", got)
	}
	b.Close()
	if got := answers(); got["a"] != 6 {
		t.Errorf("replica b down: answers %v, want all 6 from a", got)
	}
	a.Close()
	if got := answers(); got["a"]+got["b"] != 0 {
		t.Errorf("every replica down: answers %v, want only errors", got)
	}
}
