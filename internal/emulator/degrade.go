package emulator

import (
	"net/http"
	"net/netip"
)

// DegradeRequest is the body of POST /admin/v1/degrade.
type DegradeRequest struct {
	// UE is the UE address whose QoS flows the user plane forgets.
	UE string `json:"ue"`
}

type degradeAnswer struct {
	Emulator string `json:"emulator"`
	Degraded int    `json:"degraded"`
}

// adminDegrade emulates a silent QoS failure: the user plane forgets the
// QoS flows of every session of a UE, so its packets fall back to best
// effort, while the control plane still holds the sessions and says
// nothing. Updating a session (PATCH or PUT) installs its flows again,
// which is what a re-provisioning remediation does.
func (s *Server) adminDegrade(w http.ResponseWriter, r *http.Request) {
	body, ok := readAdminBody(w, r)
	if !ok {
		return
	}
	var in DegradeRequest
	if !decodeAdminBody(w, body, &in, `{"ue": "10.45.0.11"}`, "ue") {
		return
	}
	ue, err := netip.ParseAddr(in.UE)
	if err != nil {
		adminError(w, http.StatusBadRequest, `ue must be the UE's IP address, e.g. "10.45.0.11"`)
		return
	}
	n := 0
	for _, rec := range s.store.list(func(rec *record) bool { return rec.UEAddress == ue.String() }) {
		// The record stays marked as synced, so the next update of the
		// session, and only that, installs its flows again.
		s.userPlane.fwd.RemoveFlows(rec.ID)
		n++
	}
	s.log.Warn("user plane degraded: QoS flows forgotten silently", "ue", ue, "sessions", n)
	writeJSON(w, http.StatusOK, contentTypeJSON, degradeAnswer{Emulator: emulatorNote, Degraded: n})
}
