// Package hostile has no code of its own: its test is the table of
// malformed and hostile inputs of DESIGN §11 ("an unauthenticated
// notification, console action or cross-namespace request accepted" must
// never happen) and issue 6.
//
// Every row sends one input to the part of medslice that faces it — the
// real API server with medslice's CRDs (internal/testenv), the notification
// receiver (internal/notify) and the web console (internal/console), all in
// one test process — and checks two things: the sender is told what is
// wrong in words a person can act on, and nothing changed: no object
// created, updated or deleted, no notification delivered, no console
// session opened.
//
// A row that finds an input accepted, or refused without saying why, is a
// bug in the package that owns the input; fix it there and keep the row.
package hostile
