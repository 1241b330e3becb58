// Package core talks to a 5G core on behalf of slices: NEF AsSessionWithQoS
// (TS 29.122 §5.14) or PCF Npcf_PolicyAuthorization (TS 29.514). Both are
// reduced to one small interface so that reconcilers do not care which API a
// hospital's core offers.
package core

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrNotFound is returned when the core does not know a session.
var ErrNotFound = errors.New("core session not found")

// ErrNotSupported is returned for an operation the core's API does not have
// (PCF N5 has no collection GET).
var ErrNotSupported = errors.New("operation not supported by this core API")

// Client is one core's session API. Implementations are safe for concurrent use.
type Client interface {
	// Create asks the core for a session. When the core reports that an
	// equivalent session already exists (PCF 303 See Other), Create returns
	// that session, so a retry after a lost answer never duplicates.
	Create(ctx context.Context, spec SessionSpec) (Session, error)
	// Get reads a session; ErrNotFound when the core does not know it.
	Get(ctx context.Context, id string) (Session, error)
	// Update replaces what the session asks for (PATCH); ErrNotFound when gone.
	Update(ctx context.Context, id string, spec SessionSpec) (Session, error)
	// Delete ends a session; a session already gone is not an error.
	Delete(ctx context.Context, id string) error
	// List returns every session this AF holds on the core, or ErrNotSupported.
	List(ctx context.Context) ([]Session, error)
	// Ping checks that the API answers, without changing anything.
	Ping(ctx context.Context) error
}

// UE identifies the device in the core (its PDU session).
type UE struct {
	IPv4 string
	IPv6 string
	GPSI string // TS 29.571 Gpsi, "msisdn-..." or "extid-..."
	SUPI string // TS 29.571 Supi, "imsi-..."
}

// SNSSAI is the network slice (TS 29.571 Snssai).
type SNSSAI struct {
	SST int32
	SD  string
}

// ARP is the allocation and retention priority (TS 29.571 Arp).
type ARP struct {
	PriorityLevel int32
	PreemptCap    string // NOT_PREEMPT | MAY_PREEMPT
	PreemptVuln   string // NOT_PREEMPTABLE | PREEMPTABLE
}

// QoS is what the session asks of the core. Zero values are left out.
type QoS struct {
	FiveQI              int32
	ARP                 ARP
	GBRUplinkKbps       int64
	GBRDownlinkKbps     int64
	MBRUplinkKbps       int64
	MBRDownlinkKbps     int64
	PacketDelayBudgetMs int32
	PacketErrorRate     string // "1E-4"
	MaxDataBurstVolume  int32  // bytes
	QoSReference        string // NEF qosReference
	MediaType           string // PCF medType, e.g. APPLICATION
}

// SessionSpec is everything needed to create or update one core session: one
// device of one slice.
type SessionSpec struct {
	// NotificationURI is where the core sends events for this session. It
	// carries the correlation key and the per-session token.
	NotificationURI string
	UE              UE
	DNN             string
	SNSSAI          SNSSAI
	// FlowDescriptions are IPFilterRules (TS 29.214 §5.4.2), one per direction.
	FlowDescriptions []string
	QoS              QoS
	// ExpiresAt bounds the session in time; the core ends it then unless renewed.
	ExpiresAt time.Time
}

// Session is a session as the core reports it.
type Session struct {
	ID              string
	NotificationURI string
	UE              UE
	// ExpiresAt is when the core will end the session; zero when unknown.
	ExpiresAt time.Time
}

// Error is an answer from the core that was not a success, with the 3GPP
// ProblemDetails fields when the core sent them.
type Error struct {
	Op         string // create, get, update, delete, list, ping
	StatusCode int    // HTTP status; 0 when the core was not reached
	Cause      string // ProblemDetails.cause, e.g. "INSUFFICIENT_RESOURCES"
	Detail     string // ProblemDetails.detail, or the transport error
	// Invalid is set when the request was never sent because the spec cannot
	// be expressed in this core's API (e.g. a NEF subscription for a UE
	// without an IP address); retrying it unchanged cannot succeed.
	Invalid bool
	// Auth is set when the core, or its token endpoint, refused this
	// client's credentials; retrying with the same ones cannot succeed.
	Auth *AuthFailure
}

// Unwrap returns the AuthFailure, if any, so that errors.As finds it.
func (e *Error) Unwrap() error {
	if e.Auth == nil {
		return nil
	}
	return e.Auth
}

func (e *Error) Error() string {
	switch {
	case e.Invalid:
		return fmt.Sprintf("core %s: not sent: %s", e.Op, e.Detail)
	case e.StatusCode == 0:
		return fmt.Sprintf("core %s: %s", e.Op, e.Detail)
	case e.Cause != "":
		return fmt.Sprintf("core %s: %d %s: %s", e.Op, e.StatusCode, e.Cause, e.Detail)
	default:
		return fmt.Sprintf("core %s: %d %s", e.Op, e.StatusCode, e.Detail)
	}
}

// Retryable tells whether the same request may succeed later: the core was not
// reached, was overloaded or failed internally. A 4xx is the request's fault
// and retrying it unchanged only repeats the rejection.
func (e *Error) Retryable() bool {
	if e.Invalid || e.Auth != nil {
		return false
	}
	return e.StatusCode == 0 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// IsRetryable reports whether err is worth retrying unchanged.
func IsRetryable(err error) bool {
	if _, ok := AsAuthFailure(err); ok {
		return false
	}
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Retryable()
	}
	return !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNotSupported)
}
