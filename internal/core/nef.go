package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/free5gc/openapi/models"
	AsSessQoS "github.com/free5gc/openapi/nef/AsSessQoS"
)

// nefBasePath is the AsSessionWithQoS API's path under {apiRoot}.
const nefBasePath = "/3gpp-as-session-with-qos/v1"

// QoS monitoring the NEF is asked for (TS 29.122 §5.14.2.1.2 qosMonInfo,
// TS 29.512 RequestedQosMonitoringParameter and ReportingFrequency): uplink,
// downlink and round-trip packet delay, reported periodically. The period is
// the project's choice: evidence at the probes' own granularity.
const qosMonitoringPeriodSeconds = 1

var qosMonitoringParams = []models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter{
	models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_DOWNLINK,
	models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_UPLINK,
	models.Pcf_SMPolCtrl_RequestedQosMonitoringParameter_ROUND_TRIP,
}

// nefEvents are the user plane events (TS 29.122 §5.14.2.1.2 events,
// UserPlaneEvent) the operator reacts to.
var nefEvents = []models.Nef_AsSessQoS_UserPlaneEvent{
	models.Nef_AsSessQoS_UserPlaneEvent_SUCCESSFUL_RESOURCES_ALLOCATION,
	models.Nef_AsSessQoS_UserPlaneEvent_FAILED_RESOURCES_ALLOCATION,
	models.Nef_AsSessQoS_UserPlaneEvent_QOS_GUARANTEED,
	models.Nef_AsSessQoS_UserPlaneEvent_QOS_NOT_GUARANTEED,
	models.Nef_AsSessQoS_UserPlaneEvent_QOS_MONITORING,
	models.Nef_AsSessQoS_UserPlaneEvent_SESSION_TERMINATION,
	models.Nef_AsSessQoS_UserPlaneEvent_USAGE_REPORT,
}

// Bounds of the TscQosRequirement fields the QoS maps to (TS 29.514
// TscPriorityLevel, TS 29.571 ExtMaxDataBurstVol).
const (
	tscPriorityMin   = 1
	tscPriorityMax   = 8
	tscMaxBurstMin   = 4096
	tscMaxBurstMax   = 2000000
	nefSubscriptions = "subscriptions"
)

// NEFClient is a Client for a NEF's AsSessionWithQoS API (TS 29.122 §5.14),
// the northbound API a carrier offers an untrusted AF (SCS/AS). Each session
// is one subscription for one UE address:
//
//	Create  POST   {apiRoot}/3gpp-as-session-with-qos/v1/{scsAsId}/subscriptions
//	Get     GET    …/{scsAsId}/subscriptions/{subscriptionId}
//	Update  PATCH  …/{scsAsId}/subscriptions/{subscriptionId} (merge patch)
//	Delete  DELETE …/{scsAsId}/subscriptions/{subscriptionId}
//	List    GET    …/{scsAsId}/subscriptions
//	Ping    GET    …/{scsAsId}/subscriptions
//
// The time bound is usageThreshold.duration, counted by the core from the
// request that carries it. The emulator ends a session when it elapses; a
// real NEF treats it as a usage threshold and may only report it (USAGE_REPORT)
// rather than end the session, so on a real core the operator's own expiry
// handling and its sweep of unowned sessions are the bound of last resort.
type NEFClient struct {
	api     *AsSessQoS.APIClient
	root    string
	scsAsID string
	now     func() time.Time
}

var _ Client = (*NEFClient)(nil)

// NewNEFClient returns a client for the NEF at endpoint (its apiRoot, e.g.
// "https://nef.carrier.example") acting as the AF scsAsID. hc carries
// timeouts, TLS and authentication; nil means NewHTTPClient(DefaultTimeout).
// Redirects are never followed, whatever hc says.
func NewNEFClient(endpoint, scsAsID string, hc *http.Client, opts ...Option) (*NEFClient, error) {
	root, err := apiRoot(endpoint, nefBasePath)
	if err != nil {
		return nil, err
	}
	if scsAsID == "" {
		return nil, errors.New("NEF client: empty SCS/AS id")
	}
	cfg := AsSessQoS.NewConfiguration()
	cfg.SetBasePath(root)
	cfg.SetHTTPClient(instrument(hc))
	cfg.SetUserAgent("medslice")
	o := buildOptions(opts)
	return &NEFClient{api: AsSessQoS.NewAPIClient(cfg), root: root, scsAsID: scsAsID, now: o.now}, nil
}

// The generated client pastes path parameters into the URL as they are.
func (c *NEFClient) scsAs() *string {
	s := url.PathEscape(c.scsAsID)
	return &s
}

func escaped(id string) *string {
	s := url.PathEscape(id)
	return &s
}

// Create posts an AsSessionWithQoSSubscription (TS 29.122 §5.14.3.1,
// 201 Created with Location). The session ID is the Location's last segment,
// or the self link's.
func (c *NEFClient) Create(ctx context.Context, spec SessionSpec) (Session, error) {
	const op = "create"
	sub, err := c.subscription(op, spec)
	if err != nil {
		return Session{}, err
	}
	ctx, ex := withExchange(ctx)
	resp, err := c.api.ASSessionWithRequiredQoSSubscriptionsApi.CreateASSessionWithQoSSubscription(ctx,
		&AsSessQoS.CreateASSessionWithQoSSubscriptionRequest{ScsAsId: c.scsAs(), RequestBody: &sub})
	if err != nil {
		// A 201 whose body the models cannot read still created the
		// subscription: keep its ID rather than leak it.
		if ex.status == http.StatusCreated {
			if id := idAfter(ex.header.Get("Location"), nefSubscriptions); id != "" {
				return nefSession(id, &sub), nil
			}
		}
		return Session{}, callError(op, err, ex)
	}
	body := resp.Nef_AsSessQoS_AsSessionWithQoSSubscription
	id := idAfter(resp.Location, nefSubscriptions)
	if id == "" && body != nil {
		id = idAfter(body.Self, nefSubscriptions)
	}
	if id == "" {
		return Session{}, &Error{Op: op, StatusCode: http.StatusCreated,
			Detail: "the NEF created a subscription but gave neither a Location nor a self link; it cannot be addressed"}
	}
	if body == nil || body.NotificationDestination == "" {
		body = &sub
	}
	return nefSession(id, body), nil
}

// Get reads one subscription (TS 29.122 §5.14.3.2).
func (c *NEFClient) Get(ctx context.Context, id string) (Session, error) {
	const op = "get"
	ctx, ex := withExchange(ctx)
	resp, err := c.api.IndividualASSessionWithRequiredQoSSubscriptionApi.FetchIndASSessionWithQoSSubscription(ctx,
		&AsSessQoS.FetchIndASSessionWithQoSSubscriptionRequest{ScsAsId: c.scsAs(), SubscriptionId: escaped(id)})
	if err != nil {
		return Session{}, notFound(callError(op, err, ex))
	}
	return nefSession(id, resp.Nef_AsSessQoS_AsSessionWithQoSSubscription), nil
}

// Update modifies a subscription with an AsSessionWithQoSSubscriptionPatch
// (TS 29.122 §5.14.3.2, JSON merge patch): flows, QoS, notification
// destination, events and a renewed time bound counted from now. The UE
// address cannot be patched; a device that changed address needs a new
// session. Being a merge patch, a qosReference or tscQosReq field dropped
// from the spec stays on the core.
func (c *NEFClient) Update(ctx context.Context, id string, spec SessionSpec) (Session, error) {
	const op = "update"
	sub, err := c.subscription(op, spec)
	if err != nil {
		return Session{}, err
	}
	patch := models.Nef_AsSessQoS_AsSessionWithQoSSubscriptionPatch{
		FlowInfo:                sub.FlowInfo,
		QosReference:            sub.QosReference,
		NotificationDestination: sub.NotificationDestination,
		Events:                  sub.Events,
		UsageThreshold:          (*models.Nef_UsageThresholdRm)(sub.UsageThreshold),
		QosMonInfo:              (*models.Nef_AsSessQoS_QosMonitoringInformationRm)(sub.QosMonInfo),
		TscQosReq:               (*models.Nef_AsSessQoS_TscQosRequirementRm)(sub.TscQosReq),
	}
	ctx, ex := withExchange(ctx)
	resp, err := c.api.IndividualASSessionWithRequiredQoSSubscriptionApi.ModifyIndASSessionWithQoSSubscription(ctx,
		&AsSessQoS.ModifyIndASSessionWithQoSSubscriptionRequest{ScsAsId: c.scsAs(), SubscriptionId: escaped(id), RequestBody: &patch})
	if err != nil {
		return Session{}, notFound(callError(op, err, ex))
	}
	if body := resp.Nef_AsSessQoS_AsSessionWithQoSSubscription; body != nil {
		return nefSession(id, body), nil
	}
	return nefSession(id, &sub), nil // 204 No Content
}

// Delete removes a subscription (TS 29.122 §5.14.3.2); one already gone
// (404) is not an error.
func (c *NEFClient) Delete(ctx context.Context, id string) error {
	const op = "delete"
	ctx, ex := withExchange(ctx)
	_, err := c.api.IndividualASSessionWithRequiredQoSSubscriptionApi.DeleteIndASSessionWithQoSSubscription(ctx,
		&AsSessQoS.DeleteIndASSessionWithQoSSubscriptionRequest{ScsAsId: c.scsAs(), SubscriptionId: escaped(id)})
	if err != nil {
		if e := callError(op, err, ex); e.StatusCode != http.StatusNotFound {
			return e
		}
	}
	return nil
}

// List reads every subscription of this SCS/AS (TS 29.122 §5.14.3.1);
// the ID of each is taken from its self link. A subscription without one
// cannot be addressed and is left out.
func (c *NEFClient) List(ctx context.Context) ([]Session, error) {
	subs, err := c.fetchAll(ctx, "list")
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, len(subs))
	for i := range subs {
		if id := idAfter(subs[i].Self, nefSubscriptions); id != "" {
			out = append(out, nefSession(id, &subs[i]))
		}
	}
	return out, nil
}

// Ping reads the subscription collection: the NEF answers, knows this
// SCS/AS and accepts its credentials.
func (c *NEFClient) Ping(ctx context.Context) error {
	_, err := c.fetchAll(ctx, "ping")
	return err
}

func (c *NEFClient) fetchAll(ctx context.Context, op string) ([]models.Nef_AsSessQoS_AsSessionWithQoSSubscription, error) {
	ctx, ex := withExchange(ctx)
	resp, err := c.api.ASSessionWithRequiredQoSSubscriptionsApi.FetchAllASSessionWithQoSSubscriptions(ctx,
		&AsSessQoS.FetchAllASSessionWithQoSSubscriptionsRequest{ScsAsId: c.scsAs()})
	if err != nil {
		return nil, callError(op, err, ex)
	}
	return resp.Nef_AsSessQoS_AsSessionWithQoSSubscription, nil
}

// subscription maps a SessionSpec to an AsSessionWithQoSSubscription
// (TS 29.122 §5.14.2.1.2):
//
//	notificationDestination  spec.NotificationURI (carries the correlation key)
//	ueIpv4Addr | ueIpv6Addr  the UE's IPv4, else its IPv6 (Rel-17 has no GPSI here)
//	dnn, snssai              spec.DNN, spec.SNSSAI
//	flowInfo                 spec.FlowDescriptions, one FlowInfo per downlink/uplink pair, flowId from 1
//	qosReference             spec.QoS.QoSReference when set
//	tscQosReq                GBR/MBR as BitRate, req5Gsdelay = PDB, priority = ARP level when 1..8,
//	                         maxTscBurstSize = MDBV when within 4096..2000000 bytes
//	usageThreshold.duration  seconds from now to spec.ExpiresAt, rounded up
//	qosMonInfo               UL, DL and round-trip delay, periodic, every second
//	events                   nefEvents
func (c *NEFClient) subscription(op string, spec SessionSpec) (models.Nef_AsSessQoS_AsSessionWithQoSSubscription, error) {
	var sub models.Nef_AsSessQoS_AsSessionWithQoSSubscription
	if spec.NotificationURI == "" {
		return sub, invalid(op, "no NotificationURI: the NEF requires a notificationDestination")
	}
	v4, v6 := sessionAddress(spec.UE)
	if v4 == "" && v6 == "" {
		return sub, invalid(op, "the NEF AsSessionWithQoS API (TS 29.122 Rel-17) identifies the UE only by its IP address "+
			"(ueIpv4Addr or ueIpv6Addr), and this device has none (GPSI %q, SUPI %q): give it an IP address or use a PCF core",
			spec.UE.GPSI, spec.UE.SUPI)
	}
	if len(spec.FlowDescriptions) == 0 {
		return sub, invalid(op, "no flow descriptions: the NEF needs flowInfo to know which traffic gets the QoS")
	}
	duration, err := boundSeconds(op, c.now(), spec.ExpiresAt)
	if err != nil {
		return sub, err
	}
	sub = models.Nef_AsSessQoS_AsSessionWithQoSSubscription{
		NotificationDestination: spec.NotificationURI,
		UeIpv4Addr:              v4,
		UeIpv6Addr:              v6,
		Dnn:                     spec.DNN,
		Snssai:                  snssai(spec.SNSSAI),
		FlowInfo:                nefFlowInfo(spec.FlowDescriptions),
		QosReference:            spec.QoS.QoSReference,
		TscQosReq:               tscQosReq(spec.QoS),
		UsageThreshold:          &models.Nef_UsageThreshold{Duration: duration},
		QosMonInfo: &models.Nef_AsSessQoS_QosMonitoringInformation{
			ReqQosMonParams: qosMonitoringParams,
			RepFreqs:        []models.Pcf_SMPolCtrl_ReportingFrequency{models.Pcf_SMPolCtrl_ReportingFrequency_PERIODIC},
			RepPeriod:       qosMonitoringPeriodSeconds,
		},
		Events: nefEvents,
	}
	return sub, nil
}

// snssai is the TS 29.571 Snssai, or nil when the spec names no slice (the
// models drop an SST of 0, which the schema then rejects as missing).
func snssai(s SNSSAI) *models.Snssai {
	if s.SST <= 0 {
		return nil
	}
	return &models.Snssai{Sst: s.SST, Sd: s.SD}
}

func nefFlowInfo(descs []string) []models.Nef_FlowInfo {
	var out []models.Nef_FlowInfo
	for i, pair := range flowPairs(descs) {
		out = append(out, models.Nef_FlowInfo{FlowId: int32(i + 1), FlowDescriptions: pair})
	}
	return out
}

// tscQosReq is the explicit QoS (TS 29.122 §5.14.2.1.2 TscQosRequirement), or
// nil when the spec sets none of it. Using the ARP priority level as the TSC
// priority is the project's choice: both order flows, lower is more important.
func tscQosReq(q QoS) *models.Nef_AsSessQoS_TscQosRequirement {
	var t models.Nef_AsSessQoS_TscQosRequirement
	if q.GBRUplinkKbps > 0 {
		t.ReqGbrUl = BitRate(q.GBRUplinkKbps)
	}
	if q.GBRDownlinkKbps > 0 {
		t.ReqGbrDl = BitRate(q.GBRDownlinkKbps)
	}
	if q.MBRUplinkKbps > 0 {
		t.ReqMbrUl = BitRate(q.MBRUplinkKbps)
	}
	if q.MBRDownlinkKbps > 0 {
		t.ReqMbrDl = BitRate(q.MBRDownlinkKbps)
	}
	if q.PacketDelayBudgetMs > 0 {
		t.Req5Gsdelay = q.PacketDelayBudgetMs
	}
	if p := q.ARP.PriorityLevel; p >= tscPriorityMin && p <= tscPriorityMax {
		t.Priority = p
	}
	if b := q.MaxDataBurstVolume; b >= tscMaxBurstMin && b <= tscMaxBurstMax {
		t.MaxTscBurstSize = b
	}
	if t == (models.Nef_AsSessQoS_TscQosRequirement{}) {
		return nil
	}
	return &t
}

// nefSession is a Session as a subscription describes it. ExpiresAt stays
// zero: usageThreshold.duration is counted from a request the answer does not
// date.
func nefSession(id string, sub *models.Nef_AsSessQoS_AsSessionWithQoSSubscription) Session {
	s := Session{ID: id}
	if sub == nil {
		return s
	}
	s.NotificationURI = sub.NotificationDestination
	s.UE = UE{IPv4: sub.UeIpv4Addr, IPv6: sub.UeIpv6Addr}
	return s
}

// String names the client in logs.
func (c *NEFClient) String() string {
	return fmt.Sprintf("NEF %s as %s", c.root, c.scsAsID)
}
