// Package plugin is the logic of `kubectl medslice`, the command surgery
// teams use to book a guaranteed slice, check GO / NO-GO, extend an
// overrunning slot, cancel, and see what a core has left (DESIGN §1, §6).
//
// Parse reads a command line into an Invocation, with one-line errors that
// say what each flag wants. The commands (Book, List, Describe, Extend,
// Cancel, Capacity) take an Env: a controller-runtime client, where to
// write, a clock and a time zone, so that tests fix all four. The plugin
// only writes specs (and the force-release annotation); status is the
// operator's, and the plugin reads it: GO / NO-GO from the Ready condition
// (missing, stale or contradictory is NO-GO), admission decisions from
// status.admission, the capacity timeline from what admitted slices hold.
//
// Report exports a slice's signed SLAReport (the latest, or the one of a
// period) with internal/report's JSON, CSV and PDF writers; Verify checks
// one, from a file with a public-keys file entirely offline, or by name
// with the keys of the signing Secret, and names every problem.
//
// Times are read and shown in the user's time zone. A wall clock time that
// does not exist, or exists twice, around a daylight saving change is
// refused with the two RFC 3339 readings to choose from, never guessed.
package plugin
