// Package emulator is a test double of a 5G core: it is NOT a 5G core and
// never presents itself as one. It serves the two southbound APIs medslice
// talks to — NEF AsSessionWithQoS (TS 29.122 §5.14) and PCF
// Npcf_PolicyAuthorization (TS 29.514) — with the free5gc/openapi models for
// every body, keeps sessions in memory, enforces a capacity, bounds every
// session in time, sends the 3GPP notifications, and has an admin API to
// inspect sessions, forget them all (as a core restart would) and inject
// faults (error rate, latency).
//
// What it does deliberately differently from a real core, so that tests stay
// bounded and deterministic:
//   - the usage threshold duration (NEF usageThreshold.duration, PCF
//     ascReqData.evSubsc.usgThres.duration) is read as the session's lease:
//     the emulator ends the session when it elapses, where a real core would
//     only report usage. Without one, a default lease applies;
//   - it reports resource allocation as successful as soon as it accepted a
//     request; it has no RAN, no SMF and no PDU sessions to bind to;
//   - it rejects attributes the free5gc models do not know, and values those
//     models cannot carry (0 for sst, flowId, medCompN, fNum), so client
//     mistakes surface here rather than on a real core.
//
// Notifications are sent asynchronously, after the answer is written, so a
// client may see one before it has read the answer:
//   - NEF: UserPlaneNotificationData to notificationDestination, for the
//     events listed in "events" (every event when the list is absent):
//     SUCCESSFUL_RESOURCES_ALLOCATION after a create, PUT or PATCH,
//     SESSION_TERMINATION when the session's time is up;
//   - PCF: EventsNotification to {evSubsc.notifUri}/notify, only for events
//     subscribed in evSubsc (SUCCESSFUL_RESOURCES_ALLOCATION after a create
//     or PATCH), and TerminationInfo (ALL_SDF_DEACTIVATION) to
//     {ascReqData.notifUri}/terminate when the session's time is up.
//
// Nothing is sent for a delete, a refused request or an admin reset (a core
// that restarts forgets silently). With the user plane emulated, sessions
// that ask for periodic QoS monitoring (NEF qosMonInfo, PCF QOS_MONITORING)
// also get packet delay reports, one per period, stating the delay the
// emulated link imposes on their UE (qosmon.go).
//
// The package is laid out so that a user-plane emulation (a UDP forwarder and
// a link model) can be added in its own files next to the control plane:
// server.go (wiring, transport, faults), store.go (state, capacity, expiry),
// nef.go and pcf.go (the two APIs), notify.go (callbacks), admin.go,
// auth.go and tls.go (optional OAuth2 client credentials and mutual TLS, off
// by default; the admin API stays open as the tests' control channel).
package emulator
