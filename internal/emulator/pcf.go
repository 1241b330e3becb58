package emulator

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/free5gc/openapi/models"
)

// PCF Npcf_PolicyAuthorization, TS 29.514: resources under
// {apiRoot}/npcf-policyauthorization/v1/app-sessions. There is no collection
// GET in the API, so there is none here.

func (s *Server) pcfURL(r *http.Request, id string) string {
	return s.apiRoot(r) + "/npcf-policyauthorization/v1/app-sessions/" + id
}

// pcfCreate is Npcf_PolicyAuthorization_Create (TS 29.514 §4.2.2): 201 with
// Location, or 303 See Other with the existing context's Location when the
// request is equivalent to an existing one (TS 29.514 §5.3.2.3.1): same UE
// address and same ascReqData.notifUri.
func (s *Server) pcfCreate(w http.ResponseWriter, r *http.Request) {
	if p := requireContentType(r, contentTypeJSON); p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	var asc models.Pcf_PolAuth_AppSessionContext
	if p := decodeBody(r.Body, &asc); p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	if p := validatePCF(asc.AscReqData); p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	rd := asc.AscReqData
	now := s.now()
	id := newID()
	rec := pcfRecord(rd, id, s.pcfURL(r, id), now, now, s.expiresAt(now, pcfDuration(rd.EvSubsc)))
	existing, err := s.store.insert(rec)
	if err != nil {
		writeProblem(w, APIPCF, storeProblem(APIPCF, err))
		return
	}
	if existing != nil {
		s.log.Info("pcf app session equivalent to an existing one", "id", existing.ID, "ue", existing.UEAddress, "correlation", existing.Correlation)
		w.Header().Set("Location", existing.ResourceURI)
		w.WriteHeader(http.StatusSeeOther)
		return
	}
	s.log.Info("pcf app session created", "id", id, "ue", rec.UEAddress, "correlation", rec.Correlation, "expiresAt", rec.ExpiresAt)
	w.Header().Set("Location", rec.ResourceURI)
	writeJSON(w, http.StatusCreated, contentTypeJSON, pcfContext(rec))
	s.notifyPCF(rec, models.Pcf_PolAuth_AfEvent_SUCCESSFUL_RESOURCES_ALLOCATION)
}

// pcfContext is the AppSessionContext answered for a stored session. The
// emulator claims the features the AF asked for (ascRespData.suppFeat).
func pcfContext(rec *record) *models.Pcf_PolAuth_AppSessionContext {
	return &models.Pcf_PolAuth_AppSessionContext{
		AscReqData:  rec.pcf,
		AscRespData: &models.Pcf_PolAuth_AppSessionContextRespData{SuppFeat: rec.pcfSuppFeat},
	}
}

func (s *Server) pcfLookup(r *http.Request) (*record, *problem) {
	id := r.PathValue("appSessionId")
	if rec := s.store.get(id); rec != nil && rec.API == APIPCF {
		return rec, nil
	}
	return nil, pcfNotFound(id)
}

func pcfNotFound(id string) *problem {
	p := newProblem(http.StatusNotFound, causeAppSessionCtxNotFound, "no application session context %q", id)
	p.invalid = []models.InvalidParam{{Param: "{appSessionId}", Reason: "unknown"}}
	return p
}

func (s *Server) pcfGet(w http.ResponseWriter, r *http.Request) {
	rec, p := s.pcfLookup(r)
	if p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	writeJSON(w, http.StatusOK, contentTypeJSON, pcfContext(rec))
}

// pcfPatch is Npcf_PolicyAuthorization_Update (TS 29.514 §4.2.3): a JSON
// merge patch of AppSessionContextUpdateDataPatch, answered 200 with the
// context. The bound is renewed only when the patch carries
// evSubsc.usgThres.duration.
func (s *Server) pcfPatch(w http.ResponseWriter, r *http.Request) {
	if p := requireContentType(r, contentTypeMergePatch); p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	var patch models.Pcf_PolAuth_AppSessionContextUpdateDataPatch
	raw, p := readMergePatch(r, &patch)
	if p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	if p := validatePCFPatch(patch.AscReqData, raw); p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	patchRD, _ := raw["ascReqData"].(map[string]any)
	// sipForkInd is an instruction for this update, not state of the context.
	delete(patchRD, "sipForkInd")
	var renew int32
	if u := patch.AscReqData; u != nil && u.EvSubsc != nil && u.EvSubsc.UsgThres != nil {
		renew = u.EvSubsc.UsgThres.Duration
	}
	s.pcfReplace(w, r, func(old *record, now time.Time) (*models.Pcf_PolAuth_AppSessionContextReqData, time.Time, error) {
		var rd models.Pcf_PolAuth_AppSessionContextReqData
		if err := applyMergePatch(old.pcf, patchRD, &rd); err != nil {
			return nil, time.Time{}, err
		}
		if p := validatePCF(&rd); p != nil {
			return nil, time.Time{}, p
		}
		exp := old.ExpiresAt
		if renew > 0 {
			exp = s.expiresAt(now, renew)
		}
		return &rd, exp, nil
	}, func(w http.ResponseWriter, rec *record, _ bool) {
		writeJSON(w, http.StatusOK, contentTypeJSON, pcfContext(rec))
		s.notifyPCF(rec, models.Pcf_PolAuth_AfEvent_SUCCESSFUL_RESOURCES_ALLOCATION)
	})
}

// pcfReplace stores what change makes of the named context and lets answer
// write the success answer (created tells whether an events subscription
// came into being).
func (s *Server) pcfReplace(w http.ResponseWriter, r *http.Request,
	change func(old *record, now time.Time) (*models.Pcf_PolAuth_AppSessionContextReqData, time.Time, error),
	answer func(w http.ResponseWriter, rec *record, created bool),
) {
	old, p := s.pcfLookup(r)
	if p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	now := s.now()
	var created bool
	rec, err := s.store.update(old.ID, func(cur *record) (*record, error) {
		if cur.API != APIPCF {
			return nil, errUnknownSession
		}
		rd, exp, err := change(cur, now)
		if err != nil {
			return nil, err
		}
		created = cur.pcf.EvSubsc == nil && rd.EvSubsc != nil
		return pcfRecord(rd, cur.ID, cur.ResourceURI, cur.CreatedAt, now, exp), nil
	})
	if errors.Is(err, errUnknownSession) {
		writeProblem(w, APIPCF, pcfNotFound(old.ID))
		return
	}
	if err != nil {
		writeProblem(w, APIPCF, storeProblem(APIPCF, err))
		return
	}
	s.log.Info("pcf app session updated", "id", rec.ID, "correlation", rec.Correlation, "expiresAt", rec.ExpiresAt)
	answer(w, rec, created)
}

// pcfDelete is Npcf_PolicyAuthorization_Delete (TS 29.514 §4.2.4), POST
// …/{appSessionId}/delete with an optional EventsSubscReqData body: 204.
func (s *Server) pcfDelete(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeProblem(w, APIPCF, newProblem(http.StatusBadRequest, causeInvalidMsgFormat, "reading the body: %v", err))
		return
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if p := requireContentType(r, contentTypeJSON); p != nil {
			writeProblem(w, APIPCF, p)
			return
		}
		var req models.Pcf_PolAuth_EventsSubscReqData
		if p := decodeBody(bytes.NewReader(body), &req); p != nil {
			writeProblem(w, APIPCF, p)
			return
		}
	}
	rec, p := s.pcfLookup(r)
	if p == nil && s.store.remove(rec.ID) == nil {
		p = pcfNotFound(rec.ID)
	}
	if p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	s.log.Info("pcf app session deleted", "id", rec.ID, "correlation", rec.Correlation)
	w.WriteHeader(http.StatusNoContent)
}

// pcfPutEventsSubscription creates (201 with Location) or replaces (200) the
// Events Subscription sub-resource (TS 29.514 §5.3.4).
func (s *Server) pcfPutEventsSubscription(w http.ResponseWriter, r *http.Request) {
	if p := requireContentType(r, contentTypeJSON); p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	var es models.Pcf_PolAuth_EventsSubscReqData
	if p := decodeBody(r.Body, &es); p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	var v violations
	checkEventsSubsc(&v, "", &es)
	if p := v.problem(); p != nil {
		writeProblem(w, APIPCF, p)
		return
	}
	s.pcfReplace(w, r, func(old *record, now time.Time) (*models.Pcf_PolAuth_AppSessionContextReqData, time.Time, error) {
		rd := *old.pcf // shallow copy: only EvSubsc changes, and records are never mutated
		rd.EvSubsc = &es
		exp := old.ExpiresAt
		if d := pcfDuration(&es); d > 0 {
			exp = s.expiresAt(now, d)
		}
		return &rd, exp, nil
	}, func(w http.ResponseWriter, rec *record, created bool) {
		body := &models.Pcf_PolAuth_EventsSubscPutData{
			Events: es.Events, NotifUri: es.NotifUri, ReqQosMonParams: es.ReqQosMonParams, QosMon: es.QosMon,
			ReqAnis: es.ReqAnis, UsgThres: es.UsgThres, NotifCorreId: es.NotifCorreId, AfAppIds: es.AfAppIds,
			DirectNotifInd: es.DirectNotifInd,
		}
		if created {
			w.Header().Set("Location", rec.ResourceURI+"/events-subscription")
			writeJSON(w, http.StatusCreated, contentTypeJSON, body)
			return
		}
		writeJSON(w, http.StatusOK, contentTypeJSON, body)
	})
}

// pcfDeleteEventsSubscription removes the Events Subscription sub-resource:
// 204 (TS 29.514 §5.3.4).
func (s *Server) pcfDeleteEventsSubscription(w http.ResponseWriter, r *http.Request) {
	s.pcfReplace(w, r, func(old *record, _ time.Time) (*models.Pcf_PolAuth_AppSessionContextReqData, time.Time, error) {
		rd := *old.pcf
		rd.EvSubsc = nil
		return &rd, old.ExpiresAt, nil
	}, func(w http.ResponseWriter, _ *record, _ bool) {
		w.WriteHeader(http.StatusNoContent)
	})
}

// notifyPCF sends an event to {evSubsc.notifUri}/notify (TS 29.514 §4.2.5,
// the eventNotification callback), if the AF subscribed to it.
func (s *Server) notifyPCF(rec *record, ev models.Pcf_PolAuth_AfEvent) {
	es := rec.pcf.EvSubsc
	if es == nil || es.NotifUri == "" || !slices.ContainsFunc(es.Events, func(e models.Pcf_PolAuth_AfEventSubscription) bool { return e.Event == ev }) {
		return
	}
	s.notifier.enqueue(joinCallback(es.NotifUri, "notify"), models.Pcf_PolAuth_EventsNotification{
		EvSubsUri: rec.ResourceURI + "/events-subscription",
		EvNotifs:  []models.Pcf_PolAuth_AfEventNotification{{Event: ev}},
	}, rec.ID, string(ev))
}

// notifyTermination tells the AF that a session ended on the core's side.
func (s *Server) notifyTermination(rec *record) {
	switch rec.API {
	case APINEF:
		s.notifyNEF(rec, models.Nef_AsSessQoS_UserPlaneEvent_SESSION_TERMINATION)
	case APIPCF:
		// The terminationRequest callback, {ascReqData.notifUri}/terminate
		// (TS 29.514 §4.2.5.3). A real PCF then waits for the AF's delete;
		// the emulator has already forgotten the session, so that delete
		// gets 404, which clients treat as "already gone".
		s.notifier.enqueue(joinCallback(rec.pcf.NotifUri, "terminate"), models.Pcf_PolAuth_TerminationInfo{
			TermCause: models.Pcf_PolAuth_TerminationCause_ALL_SDF_DEACTIVATION,
			ResUri:    rec.ResourceURI,
		}, rec.ID, "terminate")
	}
}

func joinCallback(base, leaf string) string {
	return strings.TrimSuffix(base, "/") + "/" + leaf
}

func pcfDuration(es *models.Pcf_PolAuth_EventsSubscReqData) int32 {
	if es == nil || es.UsgThres == nil {
		return 0
	}
	return es.UsgThres.Duration
}

// pcfRecord derives the stored session from valid request data.
func pcfRecord(rd *models.Pcf_PolAuth_AppSessionContextReqData, id, resourceURI string, created, updated, expires time.Time) *record {
	rec := &record{pcf: rd, pcfSuppFeat: rd.SuppFeat}
	ss := &rec.Session
	ss.ID, ss.API, ss.ResourceURI = id, APIPCF, resourceURI
	ss.UEAddress = firstNonEmpty(rd.UeIpv4, rd.UeIpv6, rd.UeMac)
	ss.DNN = rd.Dnn
	if rd.SliceInfo != nil {
		ss.SNSSAI = &SNSSAI{SST: rd.SliceInfo.Sst, SD: rd.SliceInfo.Sd}
	}
	ss.FlowDescriptions = []string{}
	for i, mc := range sortedMediaComponents(rd.MedComponents) {
		if i == 0 {
			ss.QoSReference = mc.QosReference
			ss.FiveQI = free5GCFiveQI(mc.MedType)
		}
		for _, sc := range sortedSubComponents(mc.MedSubComps) {
			ss.FlowDescriptions = append(ss.FlowDescriptions, sc.FDescs...)
		}
		// Validated before, so the rates parse.
		marUl, _ := parseOptionalBitRate(mc.MarBwUl)
		marDl, _ := parseOptionalBitRate(mc.MarBwDl)
		mirUl, _ := parseOptionalBitRate(mc.MirBwUl)
		mirDl, _ := parseOptionalBitRate(mc.MirBwDl)
		if mc.MirBwUl == "" {
			mirUl = marUl
		}
		if mc.MirBwDl == "" {
			mirDl = marDl
		}
		ss.GBRUplink, ss.GBRDownlink = addSat(ss.GBRUplink, mirUl), addSat(ss.GBRDownlink, mirDl)
		ss.MBRUplink, ss.MBRDownlink = addSat(ss.MBRUplink, marUl), addSat(ss.MBRDownlink, marDl)
	}
	ss.NotificationURI = rd.NotifUri
	ss.Correlation = correlationOf(rd.NotifUri)
	ss.CreatedAt, ss.UpdatedAt, ss.ExpiresAt = created.UTC(), updated.UTC(), expires.UTC()
	return rec
}

// free5GCFiveQI is the 5QI free5GC's PCF derives from a media type alone.
func free5GCFiveQI(t models.Pcf_PolAuth_MediaType) int32 {
	switch t {
	case models.Pcf_PolAuth_MediaType_AUDIO:
		return 1
	case models.Pcf_PolAuth_MediaType_VIDEO, models.Pcf_PolAuth_MediaType_APPLICATION:
		return 2
	default:
		return 9
	}
}

func sortedMediaComponents(m map[string]models.Pcf_PolAuth_MediaComponent) []models.Pcf_PolAuth_MediaComponent {
	out := make([]models.Pcf_PolAuth_MediaComponent, 0, len(m))
	for _, mc := range m {
		out = append(out, mc)
	}
	slices.SortFunc(out, func(a, b models.Pcf_PolAuth_MediaComponent) int { return int(a.MedCompN) - int(b.MedCompN) })
	return out
}

func sortedSubComponents(m map[string]models.Pcf_PolAuth_MediaSubComponent) []models.Pcf_PolAuth_MediaSubComponent {
	out := make([]models.Pcf_PolAuth_MediaSubComponent, 0, len(m))
	for _, sc := range m {
		out = append(out, sc)
	}
	slices.SortFunc(out, func(a, b models.Pcf_PolAuth_MediaSubComponent) int { return int(a.FNum) - int(b.FNum) })
	return out
}

// validatePCF checks ascReqData against TS 29.514 §4.2.2.2 and the schema,
// and against what the emulator can emulate (IP flows).
func validatePCF(rd *models.Pcf_PolAuth_AppSessionContextReqData) *problem {
	var v violations
	if rd == nil {
		v.add(causeMandatoryIEMissing, "/ascReqData", "required to create an application session context (TS 29.514 §4.2.2.2)")
		return v.problem()
	}
	const base = "/ascReqData"
	if rd.NotifUri == "" {
		v.add(causeMandatoryIEMissing, base+"/notifUri", "required (TS 29.514 AppSessionContextReqData)")
	} else if err := checkCallbackURI(rd.NotifUri); err != nil {
		v.add(causeMandatoryIEIncorrect, base+"/notifUri", "%v", err)
	}
	if rd.SuppFeat == "" {
		v.add(causeMandatoryIEMissing, base+"/suppFeat", "required (TS 29.514 AppSessionContextReqData)")
	} else if !suppFeatPattern.MatchString(rd.SuppFeat) {
		v.add(causeMandatoryIEIncorrect, base+"/suppFeat", "must be hexadecimal (TS 29.571 SupportedFeatures)")
	}
	switch n := countNonEmpty(rd.UeIpv4, rd.UeIpv6, rd.UeMac); {
	case n == 0:
		v.add(causeMandatoryIEMissing, base+"/ueIpv4", "one of ueIpv4, ueIpv6 or ueMac is required (TS 29.514 AppSessionContextReqData, oneOf)")
	case n > 1:
		v.add(causeMandatoryIEIncorrect, base+"/ueIpv4", "exactly one of ueIpv4, ueIpv6 or ueMac is allowed (TS 29.514 AppSessionContextReqData, oneOf)")
	}
	for path, c := range map[string]struct {
		val   string
		check func(string) error
	}{
		base + "/ueIpv4": {rd.UeIpv4, checkIPv4},
		base + "/ueIpv6": {rd.UeIpv6, checkIPv6},
		base + "/ueMac":  {rd.UeMac, checkMAC},
	} {
		if c.val != "" {
			if err := c.check(c.val); err != nil {
				v.add(causeMandatoryIEIncorrect, path, "%v", err)
			}
		}
	}
	if rd.Dnn != "" {
		if err := checkDNN(rd.Dnn); err != nil {
			v.add(causeOptionalIEIncorrect, base+"/dnn", "%v", err)
		}
	}
	if rd.SliceInfo != nil {
		checkSNSSAI(&v, causeOptionalIEIncorrect, base+"/sliceInfo", rd.SliceInfo)
	}
	if rd.EvSubsc != nil {
		checkEventsSubsc(&v, base+"/evSubsc", rd.EvSubsc)
	}

	if len(rd.MedComponents) == 0 {
		v.add(causeInvalidServiceInfo, base+"/medComponents", "at least one media component with flows is required: the emulator grants QoS to flows")
	}
	flows := 0
	keys := make([]string, 0, len(rd.MedComponents))
	for k := range rd.MedComponents {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		mc := rd.MedComponents[k]
		flows += checkMediaComponent(&v, base+"/medComponents/"+jsonPointerEscape(k), k, &mc)
	}
	if len(rd.MedComponents) > 0 && flows == 0 {
		v.add(causeInvalidServiceInfo, base+"/medComponents", "no flow descriptions (medSubComps/fDescs): the emulator grants QoS to flows")
	}
	return v.problem()
}

// checkMediaComponent checks one TS 29.514 MediaComponent and tells how many
// flow descriptions it has.
func checkMediaComponent(v *violations, path, key string, mc *models.Pcf_PolAuth_MediaComponent) int {
	if mc.MedCompN < 1 {
		v.add(causeMandatoryIEMissing, path+"/medCompN", "required, and at least 1 (0 cannot be carried by the models this emulator encodes with)")
	} else if strconv.Itoa(int(mc.MedCompN)) != key {
		v.add(causeMandatoryIEIncorrect, path+"/medCompN", "the map key must be the medCompN (TS 29.514 AppSessionContextReqData.medComponents), got key %q for %d", key, mc.MedCompN)
	}
	rates := map[string]string{
		"/marBwUl": mc.MarBwUl, "/marBwDl": mc.MarBwDl, "/mirBwUl": mc.MirBwUl, "/mirBwDl": mc.MirBwDl,
		"/maxSuppBwUl": mc.MaxSuppBwUl, "/maxSuppBwDl": mc.MaxSuppBwDl, "/minDesBwUl": mc.MinDesBwUl,
		"/minDesBwDl": mc.MinDesBwDl, "/rrBw": mc.RrBw, "/rsBw": mc.RsBw,
	}
	parsed := map[string]BitRate{}
	for _, leaf := range sortedKeys(rates) {
		parsed[leaf] = checkBitRate(v, causeInvalidServiceInfo, path+leaf, rates[leaf])
	}
	checkGBRWithinMBR(v, causeInvalidServiceInfo, path+"/mirBwUl", parsed["/mirBwUl"], parsed["/marBwUl"])
	checkGBRWithinMBR(v, causeInvalidServiceInfo, path+"/mirBwDl", parsed["/mirBwDl"], parsed["/marBwDl"])
	if mc.DesMaxLatency < 0 || mc.DesMaxLoss < 0 {
		v.add(causeInvalidServiceInfo, path, "desMaxLatency and desMaxLoss must not be negative")
	}
	flows := 0
	subKeys := make([]string, 0, len(mc.MedSubComps))
	for k := range mc.MedSubComps {
		subKeys = append(subKeys, k)
	}
	slices.Sort(subKeys)
	for _, k := range subKeys {
		sc := mc.MedSubComps[k]
		sp := path + "/medSubComps/" + jsonPointerEscape(k)
		if sc.FNum < 1 {
			v.add(causeMandatoryIEMissing, sp+"/fNum", "required, and at least 1 (0 cannot be carried by the models this emulator encodes with)")
		} else if strconv.Itoa(int(sc.FNum)) != k {
			v.add(causeMandatoryIEIncorrect, sp+"/fNum", "the map key must be the fNum (TS 29.514 MediaComponent.medSubComps), got key %q for %d", k, sc.FNum)
		}
		if n := len(sc.FDescs); n > 2 {
			v.add(causeFilterRestrictions, sp+"/fDescs", "at most 2 descriptions (an uplink and a downlink one), got %d", n)
		}
		if len(sc.EthfDescs) > 0 {
			v.add(causeInvalidServiceInfo, sp+"/ethfDescs", "Ethernet flows are not emulated; use fDescs")
		}
		for j, fd := range sc.FDescs {
			if err := checkFlowDescription(fd); err != nil {
				v.add(causeFilterRestrictions, sp+"/fDescs/"+strconv.Itoa(j), "%v", err)
			}
		}
		checkBitRate(v, causeInvalidServiceInfo, sp+"/marBwUl", sc.MarBwUl)
		checkBitRate(v, causeInvalidServiceInfo, sp+"/marBwDl", sc.MarBwDl)
		flows += len(sc.FDescs)
	}
	return flows
}

// checkEventsSubsc checks a TS 29.514 EventsSubscReqData. notifUri is
// optional in the schema, but without it the subscribed events go nowhere.
func checkEventsSubsc(v *violations, path string, es *models.Pcf_PolAuth_EventsSubscReqData) {
	if len(es.Events) == 0 {
		v.add(causeMandatoryIEMissing, path+"/events", "required, at least one event (TS 29.514 EventsSubscReqData)")
	}
	for i, e := range es.Events {
		if e.Event == "" {
			v.add(causeMandatoryIEMissing, path+"/events/"+strconv.Itoa(i)+"/event", "required (TS 29.514 AfEventSubscription)")
		}
	}
	if es.NotifUri == "" {
		v.add(causeMandatoryIEMissing, path+"/notifUri", "required to deliver the subscribed events to {notifUri}/notify")
	} else if err := checkCallbackURI(es.NotifUri); err != nil {
		v.add(causeOptionalIEIncorrect, path+"/notifUri", "%v", err)
	}
	if u := es.UsgThres; u != nil && (u.Duration < 0 || u.TotalVolume < 0 || u.UplinkVolume < 0 || u.DownlinkVolume < 0) {
		v.add(causeOptionalIEIncorrect, path+"/usgThres", "durations and volumes are unsigned (TS 29.122 UsageThreshold)")
	}
}

// validatePCFPatch checks what the schema requires of a patch body that the
// merged result cannot show: a replaced evSubsc carries its events, a
// patched media component its medCompN (EventsSubscReqDataRm and
// MediaComponentRm both require them).
func validatePCFPatch(u *models.Pcf_PolAuth_AppSessionContextUpdateData, raw map[string]any) *problem {
	var v violations
	rawRD, _ := raw["ascReqData"].(map[string]any)
	if u != nil && u.EvSubsc != nil && rawRD["evSubsc"] != nil && len(u.EvSubsc.Events) == 0 {
		v.add(causeMandatoryIEMissing, "/ascReqData/evSubsc/events", "required (TS 29.514 EventsSubscReqDataRm)")
	}
	if u != nil {
		for _, k := range sortedKeys(u.MedComponents) {
			if mc := u.MedComponents[k]; mc != nil && mc.MedCompN < 1 {
				v.add(causeMandatoryIEMissing, "/ascReqData/medComponents/"+jsonPointerEscape(k)+"/medCompN", "required (TS 29.514 MediaComponentRm), and at least 1")
			}
		}
	}
	return v.problem()
}

// jsonPointerEscape escapes a JSON pointer token (RFC 6901 §3).
func jsonPointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
