// Package sla turns STAMP probe samples and the core's QoS notifications into
// the GO / NO-GO of a slice (DESIGN §5, §11).
//
// A Tracker follows one STAMP test session, that is one sequence-number
// space: run one per slice and device, and call a slice GO only when every
// one of its trackers is. Samples roll up into fixed windows aligned on the
// wall clock; a window meets the SLA when every set target holds in it; the
// verdict is GO only after every window has met it, without a gap, for the
// verification period, with fresh data and no failing network evidence. A
// window already certain to fail while still open makes it NO-GO at once,
// without waiting for the window to close (early.go). Anything missing,
// stale, contradictory or failing is NO-GO, with a reason that names it
// (DESIGN §11: never a GO while any input is missing, stale or failing).
//
// The package is pure logic: no Kubernetes, no network, no clock of its own.
// Time comes from the samples and from the caller of Evaluate.
package sla
