package core

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/free5gc/openapi/models"
	PolAuth "github.com/free5gc/openapi/pcf/PolAuth"
)

// pcfBasePath is the Npcf_PolicyAuthorization API's path under {apiRoot}.
const pcfBasePath = "/npcf-policyauthorization/v1"

const (
	pcfAppSessions = "app-sessions"
	// pcfSuppFeat is ascReqData.suppFeat, mandatory in TS 29.514: "0", no
	// optional feature negotiated (TS 29.500 §6.6).
	pcfSuppFeat = "0"
	// pcfMediaComponent is the one media component of every app session.
	pcfMediaComponent = 1
	// defaultMediaType is medType when the profile names none. free5GC's PCF
	// picks 5QI 2 for it and applies bit rates (see DESIGN.md §3).
	defaultMediaType = models.Pcf_PolAuth_MediaType_APPLICATION
)

// pcfEvents are the events (TS 29.514 §5.6.3 AfEvent) the operator subscribes
// to: resource allocation outcome, QoS guaranteed / not guaranteed
// (QOS_NOTIF), periodic QoS monitoring reports and the usage threshold
// (the time bound) being reached.
var pcfEvents = []models.Pcf_PolAuth_AfEventSubscription{
	{Event: models.Pcf_PolAuth_AfEvent_SUCCESSFUL_RESOURCES_ALLOCATION},
	{Event: models.Pcf_PolAuth_AfEvent_FAILED_RESOURCES_ALLOCATION},
	{Event: models.Pcf_PolAuth_AfEvent_QOS_NOTIF},
	{
		Event:       models.Pcf_PolAuth_AfEvent_QOS_MONITORING,
		NotifMethod: models.Pcf_PolAuth_AfNotifMethod_PERIODIC,
		RepPeriod:   qosMonitoringPeriodSeconds,
	},
	{Event: models.Pcf_PolAuth_AfEvent_USAGE_REPORT},
}

// PCFClient is a Client for a PCF's Npcf_PolicyAuthorization service
// (TS 29.514, the N5 interface of a campus core the hospital runs). Each
// session is one Individual Application Session Context:
//
//	Create  POST  {apiRoot}/npcf-policyauthorization/v1/app-sessions (201, or 303 for an equivalent one)
//	Get     GET   …/app-sessions/{appSessionId}
//	Update  PATCH …/app-sessions/{appSessionId} (merge patch)
//	Delete  POST  …/app-sessions/{appSessionId}/delete
//	List    not in the API: ErrNotSupported
//	Ping    GET   …/app-sessions/{random id}, expecting a 404 ProblemDetails
//
// The PCF calls back at NotificationURI + "/terminate" (TerminationInfo) and
// NotificationURI + "/notify" (EventsNotification): ascReqData.notifUri and
// evSubsc.notifUri are both set to it.
type PCFClient struct {
	api  *PolAuth.APIClient
	root string
	now  func() time.Time
}

var _ Client = (*PCFClient)(nil)

// NewPCFClient returns a client for the PCF at endpoint (its apiRoot, e.g.
// "http://pcf.core.svc:8000"). hc carries timeouts, TLS and authentication;
// nil means NewHTTPClient(DefaultTimeout). Redirects are never followed,
// whatever hc says, so that a 303 reaches Create.
func NewPCFClient(endpoint string, hc *http.Client, opts ...Option) (*PCFClient, error) {
	root, err := apiRoot(endpoint, pcfBasePath)
	if err != nil {
		return nil, err
	}
	cfg := PolAuth.NewConfiguration()
	cfg.SetBasePath(root)
	cfg.SetHTTPClient(instrument(hc))
	cfg.SetUserAgent("medslice")
	o := buildOptions(opts)
	return &PCFClient{api: PolAuth.NewAPIClient(cfg), root: root, now: o.now}, nil
}

// Create posts an AppSessionContext (TS 29.514 §4.2.2, Npcf_PolicyAuthorization_Create).
// The ID is the last path segment of the Location header after
// "app-sessions". When the PCF answers 303 See Other, an equivalent
// application session context already exists at Location; Create returns it,
// as Session{ID} only (a 303 carries no body; Get reads the rest), and no
// error, so a retry after a lost answer does not duplicate.
func (c *PCFClient) Create(ctx context.Context, spec SessionSpec) (Session, error) {
	const op = "create"
	body, err := c.appSessionContext(op, spec)
	if err != nil {
		return Session{}, err
	}
	ctx, ex := withExchange(ctx)
	resp, err := c.api.ApplicationSessionsCollectionApi.PostAppSessions(ctx,
		&PolAuth.PostAppSessionsRequest{RequestBody: &body})
	if err != nil {
		switch status, _ := answer(err, ex); status {
		case http.StatusSeeOther:
			// The generated client reports a 303 as an error; the redirect
			// is not followed (instrument), so this is the PCF's answer.
			loc := seeOtherLocation(err, ex)
			if id := idAfter(loc, pcfAppSessions); id != "" {
				return Session{ID: id}, nil
			}
			return Session{}, &Error{Op: op, StatusCode: status,
				Detail: fmt.Sprintf("303 See Other without a usable Location (%q)", loc)}
		case http.StatusCreated:
			// Created, but the models cannot read the body: keep the ID
			// rather than leak the session.
			if id := idAfter(ex.header.Get("Location"), pcfAppSessions); id != "" {
				return pcfSession(id, &body), nil
			}
		}
		return Session{}, callError(op, err, ex)
	}
	id := idAfter(resp.Location, pcfAppSessions)
	if id == "" {
		return Session{}, &Error{Op: op, StatusCode: http.StatusCreated,
			Detail: "the PCF created an app session but gave no Location; it cannot be addressed"}
	}
	got := resp.Pcf_PolAuth_AppSessionContext
	if got == nil || got.AscReqData == nil {
		got = &body
	}
	return pcfSession(id, got), nil
}

// seeOtherLocation is the Location of a 303, from the generated client's
// error model or the recorded answer.
func seeOtherLocation(err error, ex *exchange) string {
	var ge interface{ Model() interface{} }
	if errors.As(err, &ge) {
		if m, ok := ge.Model().(PolAuth.PostAppSessionsError); ok && m.Location != "" {
			return m.Location
		}
	}
	if ex.header != nil {
		return ex.header.Get("Location")
	}
	return ""
}

// Get reads an application session context (TS 29.514 §4.2.2, GET on the
// individual resource).
func (c *PCFClient) Get(ctx context.Context, id string) (Session, error) {
	got, err := c.get(ctx, "get", id)
	if err != nil {
		return Session{}, err
	}
	return pcfSession(id, got), nil
}

func (c *PCFClient) get(ctx context.Context, op, id string) (*models.Pcf_PolAuth_AppSessionContext, error) {
	ctx, ex := withExchange(ctx)
	resp, err := c.api.IndividualApplicationSessionContextDocumentApi.GetAppSession(ctx,
		&PolAuth.GetAppSessionRequest{AppSessionId: escaped(id)})
	if err != nil {
		return nil, notFound(callError(op, err, ex))
	}
	if resp.Pcf_PolAuth_AppSessionContext == nil {
		return &models.Pcf_PolAuth_AppSessionContext{}, nil
	}
	return resp.Pcf_PolAuth_AppSessionContext, nil
}

// Update modifies an application session context (TS 29.514 §4.2.3,
// Npcf_PolicyAuthorization_Update) with an AppSessionContextUpdateDataPatch:
// the media component (bit rates, latency, loss, flows), the events
// subscription and a renewed time bound counted from now.
//
// It is a JSON merge patch (RFC 7396), where a sub-component absent from the
// patch stays: Update first reads the session and sends null for every
// medSubComps entry the new spec no longer has. The UE address cannot be
// patched; a device that changed address needs a new session.
func (c *PCFClient) Update(ctx context.Context, id string, spec SessionSpec) (Session, error) {
	const op = "update"
	body, err := c.appSessionContext(op, spec)
	if err != nil {
		return Session{}, err
	}
	current, err := c.get(ctx, op, id)
	if err != nil {
		return Session{}, err
	}
	patch := updatePatch(body.AscReqData, current)

	ctx, ex := withExchange(ctx)
	resp, err := c.api.IndividualApplicationSessionContextDocumentApi.ModAppSession(ctx,
		&PolAuth.ModAppSessionRequest{AppSessionId: escaped(id), RequestBody: &patch})
	if err != nil {
		return Session{}, notFound(callError(op, err, ex))
	}
	if got := resp.Pcf_PolAuth_AppSessionContext; got != nil && got.AscReqData != nil {
		return pcfSession(id, got), nil
	}
	// 204 No Content, or an answer without ascReqData: what was asked.
	s := pcfSession(id, current)
	s.NotificationURI = spec.NotificationURI
	return s, nil
}

// updatePatch turns the create request for the new spec into the
// AppSessionContextUpdateData (TS 29.514 §5.6.2) that makes the current
// context match it.
func updatePatch(want *models.Pcf_PolAuth_AppSessionContextReqData, current *models.Pcf_PolAuth_AppSessionContext) models.Pcf_PolAuth_AppSessionContextUpdateDataPatch {
	key := strconv.Itoa(pcfMediaComponent)
	mc := want.MedComponents[key]
	subs := map[string]*models.Pcf_PolAuth_MediaSubComponentRm{}
	for k, sc := range mc.MedSubComps {
		rm := models.Pcf_PolAuth_MediaSubComponentRm(sc)
		subs[k] = &rm
	}
	if current != nil && current.AscReqData != nil {
		for k := range current.AscReqData.MedComponents[key].MedSubComps {
			if _, keep := subs[k]; !keep {
				subs[k] = nil // JSON null: remove the sub-component
			}
		}
	}
	rm := &models.Pcf_PolAuth_MediaComponentRm{
		QosReference:  mc.QosReference,
		DesMaxLatency: mc.DesMaxLatency,
		DesMaxLoss:    mc.DesMaxLoss,
		FStatus:       mc.FStatus,
		MarBwDl:       mc.MarBwDl,
		MarBwUl:       mc.MarBwUl,
		MedCompN:      mc.MedCompN,
		MedSubComps:   subs,
		MedType:       mc.MedType,
		MirBwDl:       mc.MirBwDl,
		MirBwUl:       mc.MirBwUl,
		PreemptCap:    models.PreemptionCapabilityRm(mc.PreemptCap),
		PreemptVuln:   models.PreemptionVulnerabilityRm(mc.PreemptVuln),
	}
	ev := want.EvSubsc
	return models.Pcf_PolAuth_AppSessionContextUpdateDataPatch{
		AscReqData: &models.Pcf_PolAuth_AppSessionContextUpdateData{
			MedComponents: map[string]*models.Pcf_PolAuth_MediaComponentRm{key: rm},
			EvSubsc: &models.Pcf_PolAuth_EventsSubscReqDataRm{
				Events:          ev.Events,
				NotifUri:        ev.NotifUri,
				ReqQosMonParams: ev.ReqQosMonParams,
				UsgThres:        (*models.Nef_UsageThresholdRm)(ev.UsgThres),
			},
		},
	}
}

// Delete removes an application session context (TS 29.514 §4.2.4,
// Npcf_PolicyAuthorization_Delete: POST …/{appSessionId}/delete); one already
// gone (404) is not an error.
func (c *PCFClient) Delete(ctx context.Context, id string) error {
	const op = "delete"
	ctx, ex := withExchange(ctx)
	_, err := c.api.IndividualApplicationSessionContextDocumentApi.DeleteAppSession(ctx,
		&PolAuth.DeleteAppSessionRequest{AppSessionId: escaped(id)})
	if err != nil {
		if e := callError(op, err, ex); e.StatusCode != http.StatusNotFound {
			return e
		}
	}
	return nil
}

// List is not offered by Npcf_PolicyAuthorization: there is no collection
// GET, so recovery cannot depend on listing.
func (c *PCFClient) List(context.Context) ([]Session, error) {
	return nil, ErrNotSupported
}

// Ping reads an application session context that cannot exist. A 404 with
// ProblemDetails, or any other answer of the API short of 401/403/5xx, shows
// the service is there; a 404 without ProblemDetails is some other server
// (a wrong apiRoot), 401/403 means every real request would be refused, and
// 5xx or no answer means the PCF is not serving.
func (c *PCFClient) Ping(ctx context.Context) error {
	const op = "ping"
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	ctx, ex := withExchange(ctx)
	_, err := c.api.IndividualApplicationSessionContextDocumentApi.GetAppSession(ctx,
		&PolAuth.GetAppSessionRequest{AppSessionId: escaped("medslice-ping-" + hex.EncodeToString(nonce[:]))})
	if err == nil {
		return nil
	}
	e := callError(op, err, ex)
	switch status := e.StatusCode; {
	case status == http.StatusNotFound:
		if _, body := answer(err, ex); !isProblem(body) {
			e.Detail = "404 without ProblemDetails: is the apiRoot that of a PCF? " + e.Detail
			return e
		}
		return nil
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return e
	case status >= 400 && status < 500:
		return nil
	default:
		return e
	}
}

func isProblem(body []byte) bool {
	_, ok := parseProblem(body)
	return ok
}

// appSessionContext maps a SessionSpec to an AppSessionContext (TS 29.514
// §5.6.2.2 ff.):
//
//	ascReqData.notifUri               spec.NotificationURI (termination requests: {notifUri}/terminate)
//	ascReqData.suppFeat               "0"
//	ascReqData.ueIpv4 | ueIpv6        the UE's IPv4, else its IPv6 (the schema allows one)
//	ascReqData.supi, gpsi             when known (free5GC binds reliably only with the SUPI)
//	ascReqData.dnn, sliceInfo         spec.DNN, spec.SNSSAI
//	ascReqData.medComponents["1"]     see mediaComponent
//	ascReqData.evSubsc                pcfEvents, notifUri = spec.NotificationURI ({notifUri}/notify),
//	                                  reqQosMonParams UL/DL/round trip,
//	                                  usgThres.duration = seconds from now to spec.ExpiresAt
func (c *PCFClient) appSessionContext(op string, spec SessionSpec) (models.Pcf_PolAuth_AppSessionContext, error) {
	var asc models.Pcf_PolAuth_AppSessionContext
	if spec.NotificationURI == "" {
		return asc, invalid(op, "no NotificationURI: the PCF requires notifUri")
	}
	v4, v6 := sessionAddress(spec.UE)
	if v4 == "" && v6 == "" {
		return asc, invalid(op, "the PCF binds an app session to a PDU session by UE IP address (ueIpv4 or ueIpv6), "+
			"and this device has none (GPSI %q, SUPI %q)", spec.UE.GPSI, spec.UE.SUPI)
	}
	if len(spec.FlowDescriptions) == 0 {
		return asc, invalid(op, "no flow descriptions: the PCF needs medSubComps to know which traffic gets the QoS")
	}
	duration, err := boundSeconds(op, c.now(), spec.ExpiresAt)
	if err != nil {
		return asc, err
	}
	asc.AscReqData = &models.Pcf_PolAuth_AppSessionContextReqData{
		NotifUri:      spec.NotificationURI,
		SuppFeat:      pcfSuppFeat,
		UeIpv4:        v4,
		UeIpv6:        v6,
		Supi:          spec.UE.SUPI,
		Gpsi:          spec.UE.GPSI,
		Dnn:           spec.DNN,
		SliceInfo:     snssai(spec.SNSSAI),
		MedComponents: map[string]models.Pcf_PolAuth_MediaComponent{strconv.Itoa(pcfMediaComponent): mediaComponent(spec)},
		EvSubsc: &models.Pcf_PolAuth_EventsSubscReqData{
			Events:          pcfEvents,
			NotifUri:        spec.NotificationURI,
			ReqQosMonParams: qosMonitoringParams,
			UsgThres:        &models.Nef_UsageThreshold{Duration: duration},
		},
	}
	return asc, nil
}

// mediaComponent is the one MediaComponent (TS 29.514 §5.6.2.7):
//
//	medCompN 1, fStatus ENABLED
//	medType          spec.QoS.MediaType, else APPLICATION (free5GC derives the 5QI from it alone)
//	marBwUl/Dl       MBR as BitRate
//	mirBwUl/Dl       GBR as BitRate
//	desMaxLatency    packet delay budget, in milliseconds
//	desMaxLoss       packet error rate, in percent
//	qosReference     when set
//	preemptCap/Vuln  from the ARP (the ARP priority level has no field here)
//	medSubComps      one MediaSubComponent per downlink/uplink pair of flow
//	                 descriptions, fNum from 1, fStatus ENABLED, flowUsage NO_INFO
func mediaComponent(spec SessionSpec) models.Pcf_PolAuth_MediaComponent {
	q := spec.QoS
	mc := models.Pcf_PolAuth_MediaComponent{
		MedCompN:     pcfMediaComponent,
		MedType:      defaultMediaType,
		FStatus:      models.Pcf_PolAuth_FlowStatus_ENABLED,
		QosReference: q.QoSReference,
		PreemptCap:   models.PreemptionCapability(q.ARP.PreemptCap),
		PreemptVuln:  models.PreemptionVulnerability(q.ARP.PreemptVuln),
		MedSubComps:  map[string]models.Pcf_PolAuth_MediaSubComponent{},
	}
	if t := strings.ToUpper(strings.TrimSpace(q.MediaType)); t != "" {
		mc.MedType = models.Pcf_PolAuth_MediaType(t)
	}
	if q.MBRUplinkKbps > 0 {
		mc.MarBwUl = BitRate(q.MBRUplinkKbps)
	}
	if q.MBRDownlinkKbps > 0 {
		mc.MarBwDl = BitRate(q.MBRDownlinkKbps)
	}
	if q.GBRUplinkKbps > 0 {
		mc.MirBwUl = BitRate(q.GBRUplinkKbps)
	}
	if q.GBRDownlinkKbps > 0 {
		mc.MirBwDl = BitRate(q.GBRDownlinkKbps)
	}
	if q.PacketDelayBudgetMs > 0 {
		mc.DesMaxLatency = float32(q.PacketDelayBudgetMs)
	}
	if per, err := strconv.ParseFloat(strings.TrimSpace(q.PacketErrorRate), 64); err == nil && per > 0 {
		mc.DesMaxLoss = float32(per * 100)
	}
	for i, pair := range flowPairs(spec.FlowDescriptions) {
		mc.MedSubComps[strconv.Itoa(i+1)] = models.Pcf_PolAuth_MediaSubComponent{
			FNum:      int32(i + 1),
			FDescs:    pair,
			FStatus:   models.Pcf_PolAuth_FlowStatus_ENABLED,
			FlowUsage: models.Pcf_PolAuth_FlowUsage_NO_INFO,
		}
	}
	return mc
}

// pcfSession is a Session as an application session context describes it.
// ExpiresAt stays zero: usgThres.duration is counted from a request the
// answer does not date.
func pcfSession(id string, asc *models.Pcf_PolAuth_AppSessionContext) Session {
	s := Session{ID: id}
	if asc == nil || asc.AscReqData == nil {
		return s
	}
	r := asc.AscReqData
	s.NotificationURI = r.NotifUri
	s.UE = UE{IPv4: r.UeIpv4, IPv6: r.UeIpv6, GPSI: r.Gpsi, SUPI: r.Supi}
	return s
}

// String names the client in logs.
func (c *PCFClient) String() string {
	return "PCF " + c.root
}
