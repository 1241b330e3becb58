package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/medslice/medslice/internal/stamp"
)

// UnprovisionedUE is a UE address no sample uses: its path through the
// emulated link has no QoS flow, as a device outside any slice.
const UnprovisionedUE = "10.45.255.254"

// PathStats are the round trips measured on one path.
type PathStats struct {
	UE         string
	Sent, Lost int
	P50, P99   time.Duration
}

func (p PathStats) String() string {
	return fmt.Sprintf("RTT p50 %s, p99 %s, %d of %d lost", p.P50.Round(10*time.Microsecond), p.P99.Round(10*time.Microsecond), p.Lost, p.Sent)
}

// Contrast measures, with `load` of background traffic on the emulated
// link, the round trip to a provisioned UE (carried in its slice's QoS
// flow) and to an unprovisioned one (best effort), side by side with the
// same probes, then switches the load off again. It is what a provisioned
// slice is for, in two numbers.
func (s *Stack) Contrast(ctx context.Context, provisionedUE, load string, d time.Duration) (prov, unprov PathStats, err error) {
	provAddr, err := s.route(ctx, provisionedUE)
	if err != nil {
		return prov, unprov, err
	}
	unprovAddr, err := s.route(ctx, UnprovisionedUE)
	if err != nil {
		return prov, unprov, err
	}
	if err := s.admin(ctx, "/admin/v1/load", map[string]string{"rate": load}, nil); err != nil {
		return prov, unprov, err
	}
	defer s.admin(context.Background(), "/admin/v1/load", map[string]string{"rate": "0 bps"}, nil)
	time.Sleep(200 * time.Millisecond) // let the queue build
	var wg sync.WaitGroup
	measure := func(ue string, to netip.AddrPort, out *PathStats) {
		defer wg.Done()
		var mu sync.Mutex
		var rtts []time.Duration
		*out = PathStats{UE: ue}
		snd, e := stamp.NewSender(stamp.SenderConfig{Target: to, Interval: 10 * time.Millisecond, Count: uint32(d / (10 * time.Millisecond)),
			OnSample: func(smp stamp.Sample) {
				mu.Lock()
				defer mu.Unlock()
				switch {
				case smp.Duplicate:
				case smp.Lost:
					out.Sent++
					out.Lost++
				default:
					out.Sent++
					rtts = append(rtts, smp.RTT)
				}
			}})
		if e != nil {
			err = e
			return
		}
		_ = snd.Run(ctx)
		mu.Lock()
		defer mu.Unlock()
		slices.Sort(rtts)
		if n := len(rtts); n > 0 {
			out.P50, out.P99 = rtts[n/2], rtts[min(n-1, n*99/100)]
		}
	}
	wg.Add(2)
	go measure(provisionedUE, provAddr, &prov)
	go measure(UnprovisionedUE, unprovAddr, &unprov)
	wg.Wait()
	return prov, unprov, err
}

// route returns the emulated user plane's network-side address for ue.
func (s *Stack) route(ctx context.Context, ue string) (netip.AddrPort, error) {
	var out struct {
		Network string `json:"network"`
	}
	if err := s.admin(ctx, "/admin/v1/routes", map[string]string{"ue": ue, "target": s.ReflectorAddr}, &out); err != nil {
		return netip.AddrPort{}, err
	}
	return netip.ParseAddrPort(out.Network)
}

func (s *Stack) admin(ctx context.Context, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.EmulatorURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var pd struct {
			Detail string `json:"detail"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&pd)
		return fmt.Errorf("emulator %s: %s: %s", path, resp.Status, pd.Detail)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}
