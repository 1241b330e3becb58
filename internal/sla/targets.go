package sla

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/medslice/medslice/api/v1alpha1"
)

const (
	// DefaultWindow is the window length when the profile sets none: ten
	// packets at the usual 100 ms probe interval, enough for a loss and an
	// RTT figure per window while still reacting within about a second.
	DefaultWindow = time.Second
	// DefaultVerificationPeriod is how long the SLA must hold before GO
	// when the profile sets no period.
	DefaultVerificationPeriod = 30 * time.Second
)

// Targets are the SLA targets of one tracker, parsed from the API.
type Targets struct {
	// RTTP99 is the highest acceptable 99th percentile of the round-trip
	// time in a window; 0 means not set.
	RTTP99 time.Duration
	// JitterP99 is the highest acceptable 99th percentile of |IPDV|
	// (RFC 5481) in a window; 0 means not set.
	JitterP99 time.Duration
	// LossRatio is the highest acceptable share of lost probes in a window;
	// negative means not set. Zero is a target: no loss at all.
	LossRatio float64
	// AvailabilityPercent is the lowest acceptable share of good windows over
	// the whole active period; negative means not set. It is judged by the
	// SLA report against Summary.Compliance, not by the GO verdict: a single
	// bad window would otherwise hold a slice NO-GO for hours after it
	// recovered.
	AvailabilityPercent float64
	// MinThroughputKbps is the lowest acceptable throughput in a window, as
	// fed by Tracker.AddThroughput; 0 means none. The API has no field for it
	// yet: callers derive it (for example from a profile's GBR).
	MinThroughputKbps int64
	// Window is the length of one evaluation window.
	Window time.Duration
	// VerificationPeriod is how long every window must have met the SLA
	// before the verdict is GO.
	VerificationPeriod time.Duration
}

// TargetsFrom parses the API form of the targets. Unset fields stay unset,
// except Window and VerificationPeriod, which take their defaults. All
// problems are reported together.
func TargetsFrom(in v1alpha1.SLATargets) (Targets, error) {
	t := Targets{
		LossRatio:           -1,
		AvailabilityPercent: -1,
		Window:              DefaultWindow,
		VerificationPeriod:  DefaultVerificationPeriod,
	}
	if in.RTTP99 != nil {
		t.RTTP99 = in.RTTP99.Duration
	}
	if in.JitterP99 != nil {
		t.JitterP99 = in.JitterP99.Duration
	}
	if in.Window != nil {
		t.Window = in.Window.Duration
	}
	if in.VerificationPeriod != nil {
		t.VerificationPeriod = in.VerificationPeriod.Duration
	}
	var errs []error
	if in.LossRatio != "" {
		v, err := parseShare("lossRatio", in.LossRatio, 1)
		errs = append(errs, err)
		t.LossRatio = v
	}
	if in.AvailabilityPercent != "" {
		v, err := parseShare("availabilityPercent", in.AvailabilityPercent, 100)
		errs = append(errs, err)
		t.AvailabilityPercent = v
	}
	errs = append(errs, t.Validate())
	if err := errors.Join(errs...); err != nil {
		return Targets{}, err
	}
	return t, nil
}

// parseShare parses a number between 0 and limit written as a decimal or in
// E notation ("0.0001", "1e-4", "99.99").
func parseShare(field, s string, limit float64) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return -1, fmt.Errorf("sla: %s %q is not a number", field, s)
	}
	if math.IsNaN(v) || v < 0 || v > limit {
		return -1, fmt.Errorf("sla: %s %q must be between 0 and %g", field, s, limit)
	}
	return v, nil
}

// Validate reports targets that cannot be judged. The API schema already
// rejects these; Validate guards callers that build Targets by hand.
func (t Targets) Validate() error {
	var errs []error
	if t.RTTP99 < 0 {
		errs = append(errs, fmt.Errorf("sla: rttP99 %v must not be negative", t.RTTP99))
	}
	if t.JitterP99 < 0 {
		errs = append(errs, fmt.Errorf("sla: jitterP99 %v must not be negative", t.JitterP99))
	}
	if math.IsNaN(t.LossRatio) || t.LossRatio > 1 {
		errs = append(errs, fmt.Errorf("sla: lossRatio %v must be between 0 and 1 (negative for no target)", t.LossRatio))
	}
	if math.IsNaN(t.AvailabilityPercent) || t.AvailabilityPercent > 100 {
		errs = append(errs, fmt.Errorf("sla: availabilityPercent %v must be between 0 and 100 (negative for no target)", t.AvailabilityPercent))
	}
	if t.MinThroughputKbps < 0 {
		errs = append(errs, fmt.Errorf("sla: minimum throughput %d kbit/s must not be negative", t.MinThroughputKbps))
	}
	if t.Window <= 0 {
		errs = append(errs, fmt.Errorf("sla: window %v must be positive", t.Window))
	}
	if t.VerificationPeriod <= 0 {
		errs = append(errs, fmt.Errorf("sla: verificationPeriod %v must be positive", t.VerificationPeriod))
	}
	return errors.Join(errs...)
}
