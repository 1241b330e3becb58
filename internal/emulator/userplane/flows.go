package userplane

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Flow is one session's provisioned QoS flow as the scheduler sees it.
type Flow struct {
	// Session is the emulator's session id.
	Session string `json:"session"`
	// UE is the session's UE address: only that UE's packets can match.
	UE netip.Addr `json:"ue"`
	// FiveQI is the session's 5QI, 0 when unknown.
	FiveQI int `json:"fiveQI"`
	// PriorityLevel is the 5QI's default priority level (TS 23.501 Table
	// 5.7.4-1), or UnknownFiveQILevel.
	PriorityLevel int `json:"priorityLevel"`
	// Rules are the flow descriptions in canonical form.
	Rules []string `json:"rules"`
}

// flowEntry is a Flow with its rules parsed.
type flowEntry struct {
	session string
	level   uint8
	rules   []IPFilterRule
}

// classify is the scheduler level of a packet of ue's going in dir: the
// most urgent level among the flows one of whose rules it matches, best
// effort when none does.
func (f *Forwarder) classify(dir Direction, ue netip.Addr, ft FiveTuple) uint8 {
	best := uint8(BestEffort)
	f.flowMu.RLock()
	defer f.flowMu.RUnlock()
	entries := f.flowsByUE[ue]
	for i := range entries {
		e := &entries[i]
		if e.level >= best {
			continue
		}
		for j := range e.rules {
			if e.rules[j].Matches(dir, ft) {
				best = e.level
				break
			}
		}
	}
	return best
}

// SetFlows installs (or replaces) the flows of a session: its UE address,
// its 5QI and its flow descriptions. Descriptions that do not parse are left
// out and reported in the error; the others are installed regardless, as a
// core installs the packet filters it understands.
func (f *Forwarder) SetFlows(session string, ue netip.Addr, fiveQI int, descriptions []string) error {
	if session == "" {
		return errors.New("userplane: a flow needs a session id")
	}
	if !ue.IsValid() {
		return fmt.Errorf("userplane: session %s: UE address %v is not an IP address", session, ue)
	}
	e := flowEntry{session: session, level: uint8(levelFor(fiveQI))}
	var errs []string
	for _, d := range descriptions {
		r, err := ParseIPFilterRule(d)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%q: %v", d, err))
			continue
		}
		e.rules = append(e.rules, r)
	}
	ue = ue.Unmap()
	f.flowMu.Lock()
	if old, ok := f.flowSessions[session]; ok {
		f.unindexLocked(session, old.ue)
	}
	f.flowSessions[session] = flowSession{ue: ue, fiveQI: fiveQI, entry: e}
	f.flowsByUE[ue] = append(f.flowsByUE[ue], e)
	f.flowMu.Unlock()
	if len(errs) > 0 {
		return fmt.Errorf("userplane: session %s: flow descriptions left out: %s", session, strings.Join(errs, "; "))
	}
	return nil
}

// RemoveFlows forgets a session's flows; its packets are best effort again.
func (f *Forwarder) RemoveFlows(session string) {
	f.flowMu.Lock()
	defer f.flowMu.Unlock()
	if old, ok := f.flowSessions[session]; ok {
		delete(f.flowSessions, session)
		f.unindexLocked(session, old.ue)
	}
}

// ClearFlows forgets every session's flows.
func (f *Forwarder) ClearFlows() {
	f.flowMu.Lock()
	defer f.flowMu.Unlock()
	clear(f.flowSessions)
	clear(f.flowsByUE)
}

// Flows lists the installed flows by session id.
func (f *Forwarder) Flows() []Flow {
	f.flowMu.RLock()
	defer f.flowMu.RUnlock()
	out := make([]Flow, 0, len(f.flowSessions))
	for id, s := range f.flowSessions {
		fl := Flow{Session: id, UE: s.ue, FiveQI: s.fiveQI, PriorityLevel: int(s.entry.level), Rules: []string{}}
		for _, r := range s.entry.rules {
			fl.Rules = append(fl.Rules, r.String())
		}
		out = append(out, fl)
	}
	slices.SortFunc(out, func(a, b Flow) int { return strings.Compare(a.Session, b.Session) })
	return out
}

type flowSession struct {
	ue     netip.Addr
	fiveQI int
	entry  flowEntry
}

// unindexLocked takes a session's entry out of its UE's list. Called with
// flowMu held.
func (f *Forwarder) unindexLocked(session string, ue netip.Addr) {
	old := f.flowsByUE[ue]
	kept := make([]flowEntry, 0, len(old))
	for _, e := range old {
		if e.session != session {
			kept = append(kept, e)
		}
	}
	if len(kept) == 0 {
		delete(f.flowsByUE, ue)
		return
	}
	f.flowsByUE[ue] = kept
}
