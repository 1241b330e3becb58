// Package evidence keeps what the probes of each slice measured and seals
// it into SLAReports (DESIGN §7): at the end of each slice window, and
// daily for open-ended slices, with checkpoints so that an operator
// restart loses at most one checkpoint interval of evidence and the
// report says so.
//
// # Where it sits
//
// The Recorder decorates the reconciler's probes (controllers.Probes): the
// reconciler calls Ensure, Reset, Stop and Verdict as before, and nothing
// in it knows about evidence. The probes' trackers keep a bounded history
// and forget it when the probes restart or stop, so the Recorder takes
// their closed windows (probe.Manager.Rollups) before passing Reset, a
// restarting Ensure or Stop on, and at every checkpoint interval in
// between. It runs on the leader only, as the probes do.
//
// # One report per slice and period
//
// A slice with several devices gets one report, whose windows are the
// slice's: a slice window combines the windows its devices' probes closed
// for the same span (trackers share window boundaries), counts summed,
// each percentile and the maximum the highest of the devices, met only
// when every device met every target. That is the GO verdict's rule (a
// slice is GO only when every device's path is), and the SLAReport kind
// has no per-device rollups. A device that is probed but closes no window
// for a span makes the slice's window bad (no_samples, naming the device);
// before a device's first window (probes just started) its absence is no
// evidence either way. A violation's worst breach names its device.
//
// A period runs from the slice's first window to the end of its probing:
// the booked end of a scheduled slice (the reconciler stops the probes
// there), a release, a cancellation, a pre-emption or a deletion, or a
// change of its SLA targets (a report is judged against one set). An
// open-ended slice's period also ends at each midnight in the operator's
// time zone (sealed a few windows later, once the day's last windows have
// closed), and the next starts at that midnight.
//
// Windows are kept one per rollup while a period holds no more than a
// report keeps (v1alpha1.MaxReportRollups); beyond, they are merged into
// intervals of a whole number of windows aligned on the period's start,
// sized as report.Build sizes them for the planned period (the booking's
// end, or the next midnight), so a 24 h slice at 1 s windows is held as
// 2,000 intervals of 44 s, never as 86,400 windows. An interval's median
// is the median of its windows' medians, kept exact while it fills; only
// if a period outgrows its plan (a booking extended) are intervals merged
// in pairs, their median then the median of their parts' medians.
//
// # Gaps
//
// Every span of a period without evidence is a gap with its reason:
// windows missing between two others; the end of the probing, when the
// last windows were still open; probes restarted because the core lost a
// session or the probe targets changed; and, after an operator restart,
// two gaps: evidence lost (windows closed after the last checkpoint, at
// most one checkpoint interval, or up to a clean shutdown, which writes a
// last checkpoint saying when it stopped) and the time the operator was
// not running, up to the first window after the restart.
//
// # Checkpoints
//
// Every Interval (default 10 s) the ledger of each slice that took new
// windows since its last checkpoint is written to a ConfigMap in the
// operator's namespace, named evidence.<namespace>.<slice>: idle slices do
// not write. The payload is gzip-compressed JSON (a 24 h slice's is tens
// of kilobytes), signed with the report key (Ed25519 over a context
// string, the ConfigMap's name and the payload), so that a checkpoint
// edited or moved to another slice's name is detected at restart: its
// content is not used, and the slice's next report states the time since
// the checkpoint was first written as a gap. Checkpoints are kept in the
// operator's namespace, not the slice's, so that the operator needs no
// write access to ConfigMaps anywhere else and a team cannot touch them;
// no owner reference ties them to the slice, so that a slice deleted while
// the operator is down still gets its report. The Recorder deletes a
// checkpoint once everything in it is sealed.
//
// At start the Recorder lists the checkpoints before the reconciler's
// first calls go on (they wait up to 30 s). A restored ledger continues
// when its slice (same UID) is probed again; one that nobody probes again
// within a minute (or five intervals) is sealed as it is.
//
// # Sealing
//
// A closed period is built with report.Build, each interval as one rollup
// (the window counts put back, see sealReport), signed with report.Seal
// and created as the SLAReport ReportName(slice, period start) in the
// slice's namespace. The name is the same on every attempt: after a crash
// the report made before is found (AlreadyExists) and never made twice.
// Reports outlive their slice: nothing owns them. Each carries the slice's
// UID as a label and its period and compliance as annotations, so that a
// slice's reports can be listed from their metadata alone.
package evidence
