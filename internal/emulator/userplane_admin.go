package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/medslice/medslice/internal/emulator/userplane"
)

// The user plane's admin API, under /admin/v1/ like the rest:
//
//	GET  /admin/v1/userplane          link, load, impairments, routes, flows, counters per queue
//	GET  /admin/v1/impairments        impairments in force
//	POST /admin/v1/impairments        {"target": "<UE address or *>", "delay": "20ms", "jitter": "5ms", "loss": 0.01, "direction": "downlink"}
//	GET  /admin/v1/load               background load in force
//	POST /admin/v1/load               {"rate": "95 Mbps", "burst": "50ms", "direction": "both"}
//	GET  /admin/v1/routes             routes
//	POST /admin/v1/routes             {"ue": "10.45.0.11", "target": "127.0.0.1:8620", "listen": "127.0.0.1:0"}
//	DELETE /admin/v1/routes/{ue}

// userPlaneOff is the answer of every user plane resource when it is off.
const userPlaneOff = "the user plane is not emulated: start medslice-core-emulator with --userplane (Config.UserPlane.Enabled)"

// ImpairmentRequest is the body of POST /admin/v1/impairments. An empty
// body clears every impairment; a target with zero values clears that
// target's.
type ImpairmentRequest struct {
	// Target is a UE address, or "*" for every UE without its own.
	Target string `json:"target"`
	// Delay and Jitter are Go durations ("20ms"); Loss a share in [0, 1].
	Delay  string  `json:"delay,omitempty"`
	Jitter string  `json:"jitter,omitempty"`
	Loss   float64 `json:"loss,omitempty"`
	// Direction is "downlink" (the default: counted once per round trip),
	// "uplink" or "both".
	Direction string `json:"direction,omitempty"`
}

// LoadRequest is the body of POST /admin/v1/load. An empty body or a zero
// rate clears the load.
type LoadRequest struct {
	// Rate is the average background rate, a TS 29.571 BitRate ("95 Mbps").
	Rate string `json:"rate"`
	// Burst is how long one burst takes at the link rate, a Go duration
	// (default 50ms, at most the queue limit): the most a best-effort
	// packet waits behind it.
	Burst string `json:"burst,omitempty"`
	// Direction is "both" (the default), "downlink" or "uplink".
	Direction string `json:"direction,omitempty"`
}

// RouteRequest is the body of POST /admin/v1/routes.
type RouteRequest struct {
	// UE is the UE's IP address.
	UE string `json:"ue"`
	// Target is the device side, where the UE's reflector listens.
	Target string `json:"target"`
	// Listen optionally fixes the network-side address; the default is a
	// free port on the configured host.
	Listen string `json:"listen,omitempty"`
}

type impairmentView struct {
	Target    string  `json:"target"`
	Delay     string  `json:"delay"`
	Jitter    string  `json:"jitter"`
	Loss      float64 `json:"loss"`
	Direction string  `json:"direction"`
}

type loadView struct {
	Rate      BitRate `json:"rate"`
	Burst     string  `json:"burst,omitempty"`
	Direction string  `json:"direction,omitempty"`
}

type linkView struct {
	Rate       BitRate `json:"rate"`
	Delay      string  `json:"delay"`
	QueueLimit string  `json:"queueLimit"`
	TimerSpin  string  `json:"timerSpin"`
}

type userPlaneView struct {
	Emulator string `json:"emulator"`
	// ProbeSource is the logical source of everything that enters on the
	// network side, for matching flow descriptions.
	ProbeSource string              `json:"probeSource"`
	Link        linkView            `json:"link"`
	Load        loadView            `json:"load"`
	Impairments []impairmentView    `json:"impairments"`
	Routes      []userplane.Route   `json:"routes"`
	Flows       []userplane.Flow    `json:"flows"`
	Downlink    userplane.LinkStats `json:"downlink"`
	Uplink      userplane.LinkStats `json:"uplink"`
}

type impairmentsAnswer struct {
	Emulator    string           `json:"emulator"`
	Impairments []impairmentView `json:"impairments"`
	// Notified counts the sessions this change told QOS_NOT_GUARANTEED or
	// QOS_GUARANTEED (QOS_NOTIF on PCF); POST only.
	Notified *qosTransitions `json:"notified,omitempty"`
}

type loadAnswer struct {
	Emulator string   `json:"emulator"`
	Load     loadView `json:"load"`
}

type routesAnswer struct {
	Emulator string            `json:"emulator"`
	Routes   []userplane.Route `json:"routes"`
}

type routeAnswer struct {
	Emulator string `json:"emulator"`
	userplane.Route
}

func (s *Server) userPlaneRoutes(mux *http.ServeMux) {
	handlers := []struct {
		pattern string
		h       http.HandlerFunc
	}{
		{"GET /admin/v1/userplane", s.adminUserPlane},
		{"GET /admin/v1/impairments", s.adminGetImpairments},
		{"POST /admin/v1/impairments", s.adminSetImpairment},
		{"GET /admin/v1/load", s.adminGetLoad},
		{"POST /admin/v1/load", s.adminSetLoad},
		{"GET /admin/v1/routes", s.adminGetRoutes},
		{"POST /admin/v1/routes", s.adminAddRoute},
		{"DELETE /admin/v1/routes/{ue}", s.adminRemoveRoute},
		{"POST /admin/v1/degrade", s.adminDegrade},
	}
	for _, h := range handlers {
		mux.Handle(h.pattern, s.needUserPlane(h.h))
	}
	for p, allow := range map[string]string{
		"/admin/v1/userplane":   "GET",
		"/admin/v1/impairments": "GET, POST",
		"/admin/v1/load":        "GET, POST",
		"/admin/v1/routes":      "GET, POST",
		"/admin/v1/degrade":     "POST",
		"/admin/v1/routes/{ue}": "DELETE",
	} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			adminError(w, http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s; allowed: %s", r.Method, r.URL.Path, allow))
		})
	}
}

// needUserPlane answers 404 when the user plane is off.
func (s *Server) needUserPlane(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.userPlane == nil {
			adminError(w, http.StatusNotFound, userPlaneOff)
			return
		}
		h(w, r)
	})
}

func (s *Server) adminUserPlane(w http.ResponseWriter, _ *http.Request) {
	fwd := s.userPlane.fwd
	c := fwd.Config()
	st := fwd.Stats()
	writeJSON(w, http.StatusOK, contentTypeJSON, userPlaneView{
		Emulator:    emulatorNote,
		ProbeSource: c.ProbeSource.String(),
		Link: linkView{
			Rate: BitRate(c.LinkRate), Delay: c.LinkDelay.String(), QueueLimit: c.QueueLimit.String(), TimerSpin: c.TimerSpin.String(),
		},
		Load:        viewLoad(fwd.Load()),
		Impairments: s.impairmentViews(),
		Routes:      fwd.Routes(),
		Flows:       fwd.Flows(),
		Downlink:    st.Downlink,
		Uplink:      st.Uplink,
	})
}

func (s *Server) impairmentViews() []impairmentView {
	out := []impairmentView{}
	for _, im := range s.userPlane.fwd.Impairments() {
		out = append(out, impairmentView{
			Target: im.Target, Delay: im.Delay.String(), Jitter: im.Jitter.String(), Loss: im.Loss, Direction: im.Directions.String(),
		})
	}
	return out
}

func viewLoad(ld userplane.Load) loadView {
	if ld.Rate == 0 {
		return loadView{}
	}
	return loadView{Rate: BitRate(ld.Rate), Burst: ld.Burst.String(), Direction: ld.Directions.String()}
}

func (s *Server) adminGetImpairments(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, contentTypeJSON, impairmentsAnswer{Emulator: emulatorNote, Impairments: s.impairmentViews()})
}

// adminSetImpairment sets or clears one target's impairment, then tells the
// sessions it hurts, or no longer hurts, about their QoS.
func (s *Server) adminSetImpairment(w http.ResponseWriter, r *http.Request) {
	body, ok := readAdminBody(w, r)
	if !ok {
		return
	}
	fwd := s.userPlane.fwd
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || bytes.Equal(trimmed, []byte("{}")) {
		// No body, or an empty object: clear every impairment.
		fwd.ClearImpairments()
		s.log.Info("admin impairments cleared")
	} else {
		var in ImpairmentRequest
		const shape = `{"target": "<UE address or *>", "delay": "20ms", "jitter": "5ms", "loss": 0..1, "direction": "downlink|uplink|both"}`
		if !decodeAdminBody(w, body, &in, shape, "target", "delay", "jitter", "loss", "direction") {
			return
		}
		im, err := impairmentOf(in)
		if err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		if err := fwd.SetImpairment(im); err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.log.Info("admin impairment set", "target", im.Target, "delay", im.Delay, "jitter", im.Jitter, "loss", im.Loss, "direction", im.Directions)
	}
	n := s.reconcileQoS()
	writeJSON(w, http.StatusOK, contentTypeJSON, impairmentsAnswer{Emulator: emulatorNote, Impairments: s.impairmentViews(), Notified: &n})
}

func impairmentOf(in ImpairmentRequest) (userplane.Impairment, error) {
	im := userplane.Impairment{Target: in.Target, Loss: in.Loss}
	if in.Target == "" {
		return im, errors.New(`target is required: a UE's IP address, or "*" for every UE`)
	}
	if in.Target != userplane.AllUEs {
		if a, err := netip.ParseAddr(in.Target); err != nil || a.Zone() != "" {
			return im, fmt.Errorf(`target must be a UE's IP address or "*", got %q`, in.Target)
		}
	}
	var err error
	if im.Delay, err = adminDuration("delay", in.Delay, userplane.MaxImpairmentDelay); err != nil {
		return im, err
	}
	if im.Jitter, err = adminDuration("jitter", in.Jitter, userplane.MaxImpairmentDelay); err != nil {
		return im, err
	}
	if in.Loss < 0 || in.Loss > 1 {
		return im, fmt.Errorf("loss must be between 0 and 1, got %v", in.Loss)
	}
	if in.Direction != "" {
		if im.Directions, err = userplane.ParseDirections(in.Direction); err != nil {
			return im, err
		}
	}
	return im, nil
}

func (s *Server) adminGetLoad(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, contentTypeJSON, loadAnswer{Emulator: emulatorNote, Load: viewLoad(s.userPlane.fwd.Load())})
}

// adminSetLoad switches the background load on, changes it, or clears it.
func (s *Server) adminSetLoad(w http.ResponseWriter, r *http.Request) {
	body, ok := readAdminBody(w, r)
	if !ok {
		return
	}
	var in LoadRequest
	const shape = `{"rate": "95 Mbps", "burst": "50ms", "direction": "both|downlink|uplink"}`
	if len(body) > 0 && !decodeAdminBody(w, body, &in, shape, "rate", "burst", "direction") {
		return
	}
	fwd := s.userPlane.fwd
	var ld userplane.Load
	if in.Rate != "" {
		rate, err := ParseBitRate(in.Rate)
		if err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf(`rate must be a TS 29.571 BitRate such as "95 Mbps": %v`, err))
			return
		}
		ld.Rate = uint64(rate)
	}
	var err error
	if ld.Burst, err = adminDuration("burst", in.Burst, fwd.Config().QueueLimit); err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return
	}
	if in.Direction != "" {
		if ld.Directions, err = userplane.ParseDirections(in.Direction); err != nil {
			adminError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	if err := fwd.SetLoad(ld); err != nil {
		adminError(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "userplane: "))
		return
	}
	cur := fwd.Load()
	s.log.Info("admin background load set", "rate", BitRate(cur.Rate).String(), "burst", cur.Burst, "direction", cur.Directions)
	writeJSON(w, http.StatusOK, contentTypeJSON, loadAnswer{Emulator: emulatorNote, Load: viewLoad(cur)})
}

func (s *Server) adminGetRoutes(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, contentTypeJSON, routesAnswer{Emulator: emulatorNote, Routes: s.userPlane.fwd.Routes()})
}

// adminAddRoute opens a UE's route: 201 with the network-side address, or
// 200 with it when the same route exists.
func (s *Server) adminAddRoute(w http.ResponseWriter, r *http.Request) {
	body, ok := readAdminBody(w, r)
	if !ok {
		return
	}
	var in RouteRequest
	const shape = `{"ue": "10.45.0.11", "target": "127.0.0.1:8620", "listen": "127.0.0.1:0"}`
	if len(body) == 0 {
		adminError(w, http.StatusBadRequest, "body must be "+shape)
		return
	}
	if !decodeAdminBody(w, body, &in, shape, "ue", "target", "listen") {
		return
	}
	ue, err := netip.ParseAddr(in.UE)
	if err != nil || ue.Zone() != "" || ue.IsUnspecified() {
		adminError(w, http.StatusBadRequest, fmt.Sprintf("ue must be the UE's IP address, got %q", in.UE))
		return
	}
	target, err := netip.ParseAddrPort(in.Target)
	if err != nil || target.Port() == 0 || target.Addr().IsUnspecified() {
		adminError(w, http.StatusBadRequest, fmt.Sprintf(`target must be the device side's address and port, such as "127.0.0.1:8620", got %q`, in.Target))
		return
	}
	fwd := s.userPlane.fwd
	listen := netip.AddrPortFrom(fwd.Config().ListenHost, 0)
	if in.Listen != "" {
		if listen, err = netip.ParseAddrPort(in.Listen); err != nil {
			adminError(w, http.StatusBadRequest, fmt.Sprintf(`listen must be an address and port, such as "127.0.0.1:18620" (port 0: any), got %q`, in.Listen))
			return
		}
	}
	_, existed := fwd.Route(ue)
	if _, err := fwd.AddRouteAt(ue.String(), target, listen); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, userplane.ErrRouteExists) || errors.Is(err, syscall.EADDRINUSE) {
			status = http.StatusConflict
		}
		adminError(w, status, strings.TrimPrefix(err.Error(), "userplane: "))
		return
	}
	rt, _ := fwd.Route(ue)
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	writeJSON(w, status, contentTypeJSON, routeAnswer{Emulator: emulatorNote, Route: rt})
}

func (s *Server) adminRemoveRoute(w http.ResponseWriter, r *http.Request) {
	if err := s.userPlane.fwd.RemoveRoute(r.PathValue("ue")); err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, userplane.ErrNoRoute) {
			status = http.StatusNotFound
		}
		adminError(w, status, strings.TrimPrefix(err.Error(), "userplane: "))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// decodeAdminBody decodes a JSON object strictly: exactly-spelled known
// keys, nothing after it. It answers 400 and returns false otherwise.
func decodeAdminBody(w http.ResponseWriter, body []byte, v any, shape string, keys ...string) bool {
	if err := exactKeys(body, keys...); err != nil {
		adminError(w, http.StatusBadRequest, err.Error())
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, fmt.Sprintf("body must be %s: %v", shape, err))
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		adminError(w, http.StatusBadRequest, "body has data after the JSON object")
		return false
	}
	return true
}

// adminDuration parses an optional Go duration in [0, most].
func adminDuration(name, s string, most time.Duration) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s must be a duration such as \"20ms\": %v", name, err)
	}
	if d < 0 || d > most {
		return 0, fmt.Errorf("%s must be between 0 and %s, got %s", name, most, d)
	}
	return d, nil
}
