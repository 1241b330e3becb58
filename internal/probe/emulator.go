package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// EmulatorRoutes sends probes through the core emulator's emulated user
// plane, for development and tests only: the emulator cannot hand a host
// process the UE's address, so each UE gets a relay port on the emulator
// that carries its probes through the emulated link to the reflector.
type EmulatorRoutes struct {
	// AdminURL is the emulator's base URL.
	AdminURL string
	// Reflector is where the relay delivers device-side packets.
	Reflector string

	mu    sync.Mutex
	cache map[netip.AddrPort]netip.AddrPort
}

// Route returns the relay address for a device's reflector address.
func (e *EmulatorRoutes) Route(ctx context.Context, device netip.AddrPort) (netip.AddrPort, error) {
	e.mu.Lock()
	if a, ok := e.cache[device]; ok {
		e.mu.Unlock()
		return a, nil
	}
	e.mu.Unlock()
	// The device's port is not sent: the emulator matches flows on the
	// logical port its --ue-port names, whatever the reflector listens on.
	body, _ := json.Marshal(map[string]any{"ue": device.Addr().String(), "target": e.Reflector})
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.AdminURL+"/admin/v1/routes", bytes.NewReader(body))
	if err != nil {
		return netip.AddrPort{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("emulated user plane: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Network string `json:"network"`
		Detail  string `json:"detail"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode >= 300 {
		return netip.AddrPort{}, fmt.Errorf("emulated user plane: route for %s: %s %s", device, resp.Status, out.Detail)
	}
	a, err := netip.ParseAddrPort(out.Network)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("emulated user plane: route for %s: %w", device, err)
	}
	e.mu.Lock()
	if e.cache == nil {
		e.cache = map[netip.AddrPort]netip.AddrPort{}
	}
	e.cache[device] = a
	e.mu.Unlock()
	return a, nil
}
