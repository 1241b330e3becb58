package emulator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/free5gc/openapi/models"
)

// NEF AsSessionWithQoS, TS 29.122 §5.14: resources under
// {apiRoot}/3gpp-as-session-with-qos/v1/{scsAsId}/subscriptions.

// nefURL is an individual subscription's URL (TS 29.122 §5.14.2.2).
func (s *Server) nefURL(r *http.Request, scsAsID, id string) string {
	return s.apiRoot(r) + "/3gpp-as-session-with-qos/v1/" + url.PathEscape(scsAsID) + "/subscriptions/" + id
}

// nefCreate is POST …/subscriptions: 201 with Location and the subscription
// with its self link (TS 29.122 §5.14.2.1.3.4).
func (s *Server) nefCreate(w http.ResponseWriter, r *http.Request) {
	if p := requireContentType(r, contentTypeJSON); p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	var sub models.Nef_AsSessQoS_AsSessionWithQoSSubscription
	if p := decodeBody(r.Body, &sub); p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	if p := validateNEF(&sub); p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	now := s.now()
	scsAsID, id := r.PathValue("scsAsId"), newID()
	sub.Self = s.nefURL(r, scsAsID, id)
	rec := nefRecord(&sub, id, scsAsID, now, now, s.expiresAt(now, nefDuration(sub.UsageThreshold)))
	if _, err := s.store.insert(rec); err != nil {
		writeProblem(w, APINEF, storeProblem(APINEF, err))
		return
	}
	s.log.Info("nef subscription created", "id", id, "scsAsId", scsAsID, "ue", rec.UEAddress, "correlation", rec.Correlation, "expiresAt", rec.ExpiresAt)
	w.Header().Set("Location", sub.Self)
	writeJSON(w, http.StatusCreated, contentTypeJSON, &sub)
	s.notifyNEF(rec, models.Nef_AsSessQoS_UserPlaneEvent_SUCCESSFUL_RESOURCES_ALLOCATION)
}

// nefList is GET …/subscriptions: this SCS/AS's subscriptions, optionally
// filtered by the ip-addrs and mac-addrs query parameters.
func (s *Server) nefList(w http.ResponseWriter, r *http.Request) {
	scsAsID := r.PathValue("scsAsId")
	q := r.URL.Query()
	want := map[string]bool{}
	if raw := q.Get("ip-addrs"); raw != "" {
		var addrs []models.IpAddr
		if err := json.Unmarshal([]byte(raw), &addrs); err != nil || len(addrs) == 0 {
			p := newProblem(http.StatusBadRequest, causeInvalidQueryParam, "ip-addrs must be a non-empty JSON array of IpAddr")
			p.invalid = []models.InvalidParam{{Param: "query ip-addrs", Reason: "must be a non-empty JSON array of IpAddr"}}
			writeProblem(w, APINEF, p)
			return
		}
		for _, a := range addrs {
			want[a.Ipv4Addr] = a.Ipv4Addr != ""
			want[a.Ipv6Addr] = a.Ipv6Addr != ""
		}
	}
	for _, m := range q["mac-addrs"] {
		want[m] = true
	}
	recs := s.store.list(func(rec *record) bool {
		return rec.API == APINEF && rec.SCSASID == scsAsID && (len(want) == 0 || want[rec.UEAddress])
	})
	out := make([]models.Nef_AsSessQoS_AsSessionWithQoSSubscription, 0, len(recs))
	for _, rec := range recs {
		out = append(out, *rec.nef)
	}
	writeJSON(w, http.StatusOK, contentTypeJSON, out)
}

// nefLookup finds the subscription a request names; a subscription of
// another SCS/AS is as unknown as a missing one.
func (s *Server) nefLookup(r *http.Request) (*record, *problem) {
	id, scsAsID := r.PathValue("subscriptionId"), r.PathValue("scsAsId")
	if rec := s.store.get(id); rec != nil && rec.API == APINEF && rec.SCSASID == scsAsID {
		return rec, nil
	}
	return nil, nefNotFound(id)
}

func nefNotFound(id string) *problem {
	p := newProblem(http.StatusNotFound, causeSubscriptionNotFound, "no AS session with QoS subscription %q for this SCS/AS", id)
	p.invalid = []models.InvalidParam{{Param: "{subscriptionId}", Reason: "unknown"}}
	return p
}

func (s *Server) nefGet(w http.ResponseWriter, r *http.Request) {
	rec, p := s.nefLookup(r)
	if p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	writeJSON(w, http.StatusOK, contentTypeJSON, rec.nef)
}

// nefPut replaces a subscription (TS 29.122 §5.14.2.2.3.3). The UE address
// cannot change: a subscription is about one UE.
func (s *Server) nefPut(w http.ResponseWriter, r *http.Request) {
	if p := requireContentType(r, contentTypeJSON); p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	var sub models.Nef_AsSessQoS_AsSessionWithQoSSubscription
	if p := decodeBody(r.Body, &sub); p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	if p := validateNEF(&sub); p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	s.nefReplace(w, r, func(old *record, now time.Time) (*models.Nef_AsSessQoS_AsSessionWithQoSSubscription, time.Time, error) {
		if p := nefSameUE(old.nef, &sub); p != nil {
			return nil, time.Time{}, p
		}
		return &sub, s.expiresAt(now, nefDuration(sub.UsageThreshold)), nil
	})
}

// nefPatch applies a JSON merge patch (RFC 7396) described by
// AsSessionWithQoSSubscriptionPatch (TS 29.122 §5.14.2.2.3.4). The bound is
// renewed only when the patch carries usageThreshold.duration.
func (s *Server) nefPatch(w http.ResponseWriter, r *http.Request) {
	if p := requireContentType(r, contentTypeMergePatch); p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	var patch models.Nef_AsSessQoS_AsSessionWithQoSSubscriptionPatch
	raw, p := readMergePatch(r, &patch)
	if p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	s.nefReplace(w, r, func(old *record, now time.Time) (*models.Nef_AsSessQoS_AsSessionWithQoSSubscription, time.Time, error) {
		var sub models.Nef_AsSessQoS_AsSessionWithQoSSubscription
		if err := applyMergePatch(old.nef, raw, &sub); err != nil {
			return nil, time.Time{}, err
		}
		if p := validateNEF(&sub); p != nil {
			return nil, time.Time{}, p
		}
		exp := old.ExpiresAt
		if d := nefDurationRm(patch.UsageThreshold); d > 0 {
			exp = s.expiresAt(now, d)
		}
		return &sub, exp, nil
	})
}

// nefReplace stores what change makes of the named subscription and answers
// 200 with it.
func (s *Server) nefReplace(w http.ResponseWriter, r *http.Request,
	change func(old *record, now time.Time) (*models.Nef_AsSessQoS_AsSessionWithQoSSubscription, time.Time, error),
) {
	old, p := s.nefLookup(r)
	if p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	now := s.now()
	rec, err := s.store.update(old.ID, func(cur *record) (*record, error) {
		if cur.API != APINEF || cur.SCSASID != old.SCSASID {
			return nil, errUnknownSession
		}
		sub, exp, err := change(cur, now)
		if err != nil {
			return nil, err
		}
		sub.Self = cur.nef.Self
		return nefRecord(sub, cur.ID, cur.SCSASID, cur.CreatedAt, now, exp), nil
	})
	if errors.Is(err, errUnknownSession) {
		writeProblem(w, APINEF, nefNotFound(old.ID))
		return
	}
	if err != nil {
		writeProblem(w, APINEF, storeProblem(APINEF, err))
		return
	}
	s.log.Info("nef subscription updated", "id", rec.ID, "correlation", rec.Correlation, "expiresAt", rec.ExpiresAt)
	writeJSON(w, http.StatusOK, contentTypeJSON, rec.nef)
	s.notifyNEF(rec, models.Nef_AsSessQoS_UserPlaneEvent_SUCCESSFUL_RESOURCES_ALLOCATION)
}

// nefDelete ends a subscription: 204 (TS 29.122 §5.14.2.2.3.5).
func (s *Server) nefDelete(w http.ResponseWriter, r *http.Request) {
	rec, p := s.nefLookup(r)
	if p == nil && s.store.remove(rec.ID) == nil {
		p = nefNotFound(rec.ID)
	}
	if p != nil {
		writeProblem(w, APINEF, p)
		return
	}
	s.log.Info("nef subscription deleted", "id", rec.ID, "correlation", rec.Correlation)
	w.WriteHeader(http.StatusNoContent)
}

// notifyNEF sends a user plane event to notificationDestination (TS 29.122
// §5.14.3), if the subscription asked for it. Without "events" every event
// is reported, as before the attribute existed (Rel-17).
func (s *Server) notifyNEF(rec *record, ev models.Nef_AsSessQoS_UserPlaneEvent) {
	if len(rec.nef.Events) > 0 && !slices.Contains(rec.nef.Events, ev) {
		return
	}
	report := models.Nef_AsSessQoS_UserPlaneEventReport{Event: ev}
	if ev == models.Nef_AsSessQoS_UserPlaneEvent_SUCCESSFUL_RESOURCES_ALLOCATION {
		report.AppliedQosRef = rec.nef.QosReference
	}
	s.notifier.enqueue(rec.nef.NotificationDestination, models.Nef_AsSessQoS_UserPlaneNotificationData{
		Transaction:  rec.ResourceURI,
		EventReports: []models.Nef_AsSessQoS_UserPlaneEventReport{report},
	}, rec.ID, string(ev))
}

// nefRecord derives the stored session from a valid subscription.
func nefRecord(sub *models.Nef_AsSessQoS_AsSessionWithQoSSubscription, id, scsAsID string, created, updated, expires time.Time) *record {
	rec := &record{nef: sub}
	ss := &rec.Session
	ss.ID, ss.API, ss.SCSASID, ss.ResourceURI = id, APINEF, scsAsID, sub.Self
	ss.UEAddress = firstNonEmpty(sub.UeIpv4Addr, sub.UeIpv6Addr, sub.MacAddr)
	ss.DNN = sub.Dnn
	if sub.Snssai != nil {
		ss.SNSSAI = &SNSSAI{SST: sub.Snssai.Sst, SD: sub.Snssai.Sd}
	}
	ss.FlowDescriptions = []string{}
	for _, fi := range sub.FlowInfo {
		ss.FlowDescriptions = append(ss.FlowDescriptions, fi.FlowDescriptions...)
	}
	ss.QoSReference = sub.QosReference
	ss.FiveQI = fiveQIFromReference(sub.QosReference)
	if q := sub.TscQosReq; q != nil {
		// Validated before, so the rates parse.
		ss.GBRUplink, _ = parseOptionalBitRate(q.ReqGbrUl)
		ss.GBRDownlink, _ = parseOptionalBitRate(q.ReqGbrDl)
		ss.MBRUplink, _ = parseOptionalBitRate(q.ReqMbrUl)
		ss.MBRDownlink, _ = parseOptionalBitRate(q.ReqMbrDl)
	}
	ss.NotificationURI = sub.NotificationDestination
	ss.Correlation = correlationOf(sub.NotificationDestination)
	ss.CreatedAt, ss.UpdatedAt, ss.ExpiresAt = created.UTC(), updated.UTC(), expires.UTC()
	return rec
}

// validateNEF checks a whole subscription against TS 29.122 §5.14 and the
// schema, and against what the emulator can emulate (IP flows).
func validateNEF(sub *models.Nef_AsSessQoS_AsSessionWithQoSSubscription) *problem {
	var v violations
	if sub.NotificationDestination == "" {
		v.add(causeMandatoryIEMissing, "/notificationDestination", "required (TS 29.122 AsSessionWithQoSSubscription)")
	} else if err := checkCallbackURI(sub.NotificationDestination); err != nil {
		v.add(causeMandatoryIEIncorrect, "/notificationDestination", "%v", err)
	}

	ue := map[string]string{"/ueIpv4Addr": sub.UeIpv4Addr, "/ueIpv6Addr": sub.UeIpv6Addr, "/macAddr": sub.MacAddr}
	switch n := countNonEmpty(sub.UeIpv4Addr, sub.UeIpv6Addr, sub.MacAddr); {
	case n == 0:
		v.add(causeMandatoryIEMissing, "/ueIpv4Addr", "one of ueIpv4Addr, ueIpv6Addr or macAddr is required: a subscription is for one UE (TS 29.122 §5.14)")
	case n > 1:
		v.add(causeMandatoryIEIncorrect, "/ueIpv4Addr", "give exactly one of ueIpv4Addr, ueIpv6Addr or macAddr: a subscription is for one UE address")
	}
	for path, check := range map[string]func(string) error{"/ueIpv4Addr": checkIPv4, "/ueIpv6Addr": checkIPv6, "/macAddr": checkMAC} {
		if ue[path] != "" {
			if err := check(ue[path]); err != nil {
				v.add(causeMandatoryIEIncorrect, path, "%v", err)
			}
		}
	}

	if len(sub.EthFlowInfo) > 0 || len(sub.EnEthFlowInfo) > 0 {
		v.add(causeOptionalIEIncorrect, "/ethFlowInfo", "Ethernet flows are not emulated; describe IP flows in flowInfo")
	}
	if len(sub.FlowInfo) == 0 {
		v.add(causeMandatoryIEMissing, "/flowInfo", "at least one IP flow is required: the emulator grants QoS to flows")
	}
	seen := map[int32]bool{}
	for i, fi := range sub.FlowInfo {
		path := "/flowInfo/" + strconv.Itoa(i)
		switch {
		case fi.FlowId < 1:
			v.add(causeMandatoryIEIncorrect, path+"/flowId", "required, and at least 1 (0 cannot be carried by the models this emulator encodes with)")
		case seen[fi.FlowId]:
			v.add(causeMandatoryIEIncorrect, path+"/flowId", "flowId %d is used twice", fi.FlowId)
		}
		seen[fi.FlowId] = true
		if n := len(fi.FlowDescriptions); n < 1 || n > 2 {
			v.add(causeMandatoryIEIncorrect, path+"/flowDescriptions", "must hold 1 or 2 descriptions (an uplink and/or a downlink one), got %d", n)
		}
		for j, fd := range fi.FlowDescriptions {
			if err := checkFlowDescription(fd); err != nil {
				v.add(causeMandatoryIEIncorrect, path+"/flowDescriptions/"+strconv.Itoa(j), "%v", err)
			}
		}
	}

	if sub.QosReference == "" && sub.TscQosReq == nil {
		v.add(causeMandatoryIEMissing, "/qosReference", "the requested QoS is required, as qosReference or tscQosReq")
	}
	if q := sub.TscQosReq; q != nil {
		gul := checkBitRate(&v, causeOptionalIEIncorrect, "/tscQosReq/reqGbrUl", q.ReqGbrUl)
		gdl := checkBitRate(&v, causeOptionalIEIncorrect, "/tscQosReq/reqGbrDl", q.ReqGbrDl)
		mul := checkBitRate(&v, causeOptionalIEIncorrect, "/tscQosReq/reqMbrUl", q.ReqMbrUl)
		mdl := checkBitRate(&v, causeOptionalIEIncorrect, "/tscQosReq/reqMbrDl", q.ReqMbrDl)
		checkGBRWithinMBR(&v, causeOptionalIEIncorrect, "/tscQosReq/reqGbrUl", gul, mul)
		checkGBRWithinMBR(&v, causeOptionalIEIncorrect, "/tscQosReq/reqGbrDl", gdl, mdl)
		if q.Req5Gsdelay < 0 {
			v.add(causeOptionalIEIncorrect, "/tscQosReq/req5Gsdelay", "must be at least 1 ms (TS 29.571 PacketDelBudget)")
		}
		if q.Priority != 0 && (q.Priority < 1 || q.Priority > 8) {
			v.add(causeOptionalIEIncorrect, "/tscQosReq/priority", "must be 1..8 (TS 29.514 TscPriorityLevel), got %d", q.Priority)
		}
		if q.MaxTscBurstSize != 0 && (q.MaxTscBurstSize < 4096 || q.MaxTscBurstSize > 2000000) {
			v.add(causeOptionalIEIncorrect, "/tscQosReq/maxTscBurstSize", "must be 4096..2000000 bytes (TS 29.571 ExtMaxDataBurstVol), got %d", q.MaxTscBurstSize)
		}
	}
	if sub.Snssai != nil {
		checkSNSSAI(&v, causeOptionalIEIncorrect, "/snssai", sub.Snssai)
	}
	if sub.Dnn != "" {
		if err := checkDNN(sub.Dnn); err != nil {
			v.add(causeOptionalIEIncorrect, "/dnn", "%v", err)
		}
	}
	if u := sub.UsageThreshold; u != nil {
		if u.Duration < 0 || u.TotalVolume < 0 || u.UplinkVolume < 0 || u.DownlinkVolume < 0 {
			v.add(causeOptionalIEIncorrect, "/usageThreshold", "durations and volumes are unsigned (TS 29.122 UsageThreshold)")
		}
	}
	if !suppFeatPattern.MatchString(sub.SupportedFeatures) {
		v.add(causeOptionalIEIncorrect, "/supportedFeatures", "must be hexadecimal (TS 29.571 SupportedFeatures)")
	}
	return v.problem()
}

// nefSameUE refuses to move a subscription to another UE (TS 29.500 Table
// 5.2.7.2-1 MODIFICATION_NOT_ALLOWED).
func nefSameUE(old, sub *models.Nef_AsSessQoS_AsSessionWithQoSSubscription) *problem {
	if old.UeIpv4Addr == sub.UeIpv4Addr && old.UeIpv6Addr == sub.UeIpv6Addr && old.MacAddr == sub.MacAddr {
		return nil
	}
	p := newProblem(http.StatusForbidden, causeModificationNotAllowed, "the UE address of a subscription cannot change; delete it and create another")
	p.invalid = []models.InvalidParam{{Param: "/ueIpv4Addr", Reason: "differs from the subscription's UE address"}}
	return p
}

// checkGBRWithinMBR enforces GBR ≤ MBR (TS 23.501 §5.7.2.5: the MFBR limits
// the bit rate to the highest expected, the GFBR is what is guaranteed).
func checkGBRWithinMBR(v *violations, cause, path string, gbr, mbr BitRate) {
	if gbr > 0 && mbr > 0 && gbr > mbr {
		v.add(cause, path, "guaranteed bit rate %s exceeds the maximum %s", gbr, mbr)
	}
}

func nefDuration(u *models.Nef_UsageThreshold) int32 {
	if u == nil {
		return 0
	}
	return u.Duration
}

func nefDurationRm(u *models.Nef_UsageThresholdRm) int32 {
	if u == nil {
		return 0
	}
	return u.Duration
}

// readMergePatch reads a merge patch body: strictly into typed, to check it
// against the patch schema, and as raw JSON to apply it with RFC 7396
// semantics (null removes), which the typed models cannot express.
func readMergePatch(r *http.Request, typed any) (map[string]any, *problem) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newProblem(http.StatusRequestEntityTooLarge, "", "request body larger than %d bytes", tooBig.Limit)
		}
		return nil, newProblem(http.StatusBadRequest, causeInvalidMsgFormat, "reading the body: %v", err)
	}
	if p := decodeBody(bytes.NewReader(body), typed); p != nil {
		return nil, p
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, newProblem(http.StatusBadRequest, causeInvalidMsgFormat, "a merge patch must be a JSON object")
	}
	return raw, nil
}

// applyMergePatch applies patch (RFC 7396) to a copy of target and decodes
// the result into out.
func applyMergePatch(target any, patch map[string]any, out any) error {
	doc, err := toJSONMap(target)
	if err != nil {
		return err
	}
	merged := mergePatch(doc, patch)
	b, err := json.Marshal(merged)
	if err != nil {
		return fmt.Errorf("encoding the patched resource: %w", err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return newProblem(http.StatusBadRequest, causeInvalidMsgFormat, "the patched resource is not valid: %v", err)
	}
	return nil
}

// mergePatch is RFC 7396 §2 MergePatch.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// toJSONMap is v as a generic JSON object (a deep copy).
func toJSONMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding the stored resource: %w", err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding the stored resource: %w", err)
	}
	return m, nil
}

func parseOptionalBitRate(s string) (BitRate, error) {
	if s == "" {
		return 0, nil
	}
	return ParseBitRate(s)
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func countNonEmpty(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// storeProblem turns a store error into the API's answer. Capacity: NEF
// answers 500 INSUFFICIENT_RESOURCES (TS 29.500 Table 5.2.7.2-1; TS 29.122
// defines no AsSessionWithQoS-specific cause for it); PCF answers 403
// REQUESTED_SERVICE_NOT_AUTHORIZED with the bandwidth it could still grant
// as acceptableServInfo (TS 29.514 §4.2.2.2, Table 5.7.3-1).
func storeProblem(api API, err error) *problem {
	var p *problem
	var ce *capacityError
	switch {
	case errors.As(err, &p):
		return p
	case errors.As(err, &ce) && api == APINEF:
		return newProblem(http.StatusInternalServerError, causeInsufficientResources, "the emulated core cannot grant this: %s", ce.what)
	case errors.As(err, &ce):
		p := newProblem(http.StatusForbidden, causeServiceNotAuthorized, "the emulated core cannot grant this: %s", ce.what)
		if ce.rate {
			p.acceptable = &models.Pcf_PolAuth_AcceptableServiceInfo{}
			if ce.availableUl != nil {
				p.acceptable.MarBwUl = ce.availableUl.String()
			}
			if ce.availableDl != nil {
				p.acceptable.MarBwDl = ce.availableDl.String()
			}
		}
		return p
	default:
		return newProblem(http.StatusInternalServerError, causeSystemFailure, "%v", err)
	}
}
