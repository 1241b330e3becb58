// Package console is the web console for surgery teams (DESIGN §1, §6):
// an operating-room board with GO / NO-GO per slice and why, a booking
// form, a capacity timeline per core, and extend and cancel. Pages are
// rendered on the server (html/template, which escapes everything a user
// or the API server wrote); a small script refreshes the board and a
// slice's page every few seconds and shows NO-GO for anything it can no
// longer refresh.
//
// Routes:
//
//	GET  /signin                         sign-in form (paste a Kubernetes bearer token)
//	POST /signin                         TokenReview, then a session
//	POST /signout
//	GET  /                               the board, by namespace
//	GET  /book, POST /book               the booking form; creates a MedicalSlice
//	GET  /capacity, /capacity/{core}     cores; one core's next 24 hours
//	GET  /slices/{ns}/{name}             one slice, with the extend form
//	POST /slices/{ns}/{name}/extend      by a duration or until a time
//	GET  /slices/{ns}/{name}/cancel      confirmation step
//	POST /slices/{ns}/{name}/cancel      delete; "release now" for an active surgical slice
//	GET  /slices/{ns}/{name}/reports/{report}/{json,csv,pdf}   a report of the slice, as a file
//	GET  /static/...                     style sheet and refresh script
//
// Authority (DESIGN §11: no unauthenticated action, no cross-namespace
// request). Kubernetes RBAC is the only authority. A user signs in with a
// bearer token, which the console validates with a TokenReview under its
// own identity. From then on every read and write runs as that user: the
// session's client impersonates the reviewed user name, uid and groups
// (rest.ImpersonationConfig), so the API server authorises each request
// as the user and the console never decides on its own what a user may
// do. The board lists slices in every namespace at once when RBAC allows
// it, else namespace by namespace, skipping those RBAC refuses; the form
// offers the namespaces where a SelfSubjectAccessReview, made as the user,
// allows creating slices, and the create itself is RBAC's decision. The
// token is reviewed again every minute, so a revoked token or a deleted
// service account ends the session.
//
// The console's own identity (Config.RestConfig) needs only:
//
//	authentication.k8s.io  tokenreviews                      create
//	""                     users, groups, serviceaccounts    impersonate
//	authentication.k8s.io  uids                              impersonate
//	""                     namespaces                        list
//
// and no access to slices at all.
//
// Sessions live in memory, keyed by the SHA-256 of a random 256-bit
// cookie value; the cookie is HttpOnly, SameSite=Strict, and Secure when
// the console is served over TLS. A session ends after an hour idle or
// twelve hours in all. Every POST must carry the session's CSRF token
// (compared in constant time) and come from this origin (Origin, else
// Referer); the sign-in form has its own token bound to a cookie, so that
// no other site can sign a browser in. Responses forbid framing, allow
// only this origin's scripts and styles (CSP default-src 'self') and are
// never cached.
//
// Times are shown, and read from the form, in Config.Location, the
// hospital's; a wall clock time that does not exist or exists twice
// around a daylight saving change is refused with the readings to choose
// from (internal/plugin's parsers).
package console
