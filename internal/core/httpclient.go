package core

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/free5gc/openapi"
)

// DefaultTimeout bounds one request to the core when the caller gives no
// http.Client of its own.
const DefaultTimeout = 10 * time.Second

// Idle HTTP/2 connections to the core are checked with a PING after
// h2PingAfter without frames and dropped when it is not answered within
// h2PingTimeout, so a core that vanished is noticed before the next request
// waits on a dead connection.
const (
	h2PingAfter   = 15 * time.Second
	h2PingTimeout = 5 * time.Second
)

// NewHTTPClient returns an http.Client for a 5G core API: HTTP/2 with prior
// knowledge (h2c, as service-based interfaces without TLS speak it,
// TS 29.500) for http:// endpoints, HTTP/2 negotiated
// by ALPN over TLS for https:// ones (HTTP/1.1 only when the server offers no
// h2), redirects not followed (a 303 from the PCF is an answer, not a hop),
// and timeout per request. Give it TLS settings or OAuth2 by building on
// NewTransport instead.
func NewHTTPClient(timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     NewTransport(nil),
		CheckRedirect: noRedirects,
		Timeout:       timeout,
	}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Transport picks the HTTP version by scheme: h2c for http://, TLS with ALPN
// for https://. NewHTTPClient uses it; wrap it for OAuth2 or metrics.
type Transport struct {
	cleartext *http.Transport
	tls       *http.Transport
	// certRequest is set when the core asked for a client certificate
	// this client could not give, and cleared by the next call that
	// succeeds: with TLS 1.3 the core's refusal arrives after the
	// handshake and HTTP/2 reports it only as a connection that could
	// not be established, so this note is what explains the failure.
	certRequest atomic.Pointer[string]
}

// NewTransport returns a Transport; tlsConfig (may be nil) sets the CA pool,
// client certificate and the like for https:// endpoints.
func NewTransport(tlsConfig *tls.Config) *Transport {
	h2 := &http.HTTP2Config{SendPingTimeout: h2PingAfter, PingTimeout: h2PingTimeout}

	cleartext := &http.Transport{
		Protocols:           new(http.Protocols),
		HTTP2:               h2,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	// Only unencrypted HTTP/2: with HTTP/1 also allowed, Go would speak
	// HTTP/1.1 to http:// URLs.
	cleartext.Protocols.SetUnencryptedHTTP2(true)

	t := &Transport{cleartext: cleartext}
	secure := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		Protocols:           new(http.Protocols),
		HTTP2:               h2,
		TLSClientConfig:     t.clientCertificates(tlsConfig),
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	secure.Protocols.SetHTTP2(true)
	secure.Protocols.SetHTTP1(true)
	t.tls = secure
	return t
}

// clientCertificates returns a copy of cfg that picks the client
// certificate as crypto/tls would (the first the core's CertificateRequest
// accepts, else none) and notes when the core asked for one it could not
// have.
func (t *Transport) clientCertificates(cfg *tls.Config) *tls.Config {
	cfg = cfg.Clone()
	if cfg == nil {
		cfg = &tls.Config{}
	}
	if cfg.GetClientCertificate != nil {
		return cfg
	}
	certs := cfg.Certificates
	cfg.Certificates = nil
	cfg.GetClientCertificate = func(cri *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		for i := range certs {
			if cri.SupportsCertificate(&certs[i]) == nil {
				return &certs[i], nil
			}
		}
		note := "the core asked for a client certificate" + acceptableCAs(cri.AcceptableCAs)
		if len(certs) == 0 {
			note += " and this client has none"
		} else {
			note += " and this client's" + issuedBy(&certs[0]) + " does not qualify"
		}
		t.certRequest.Store(&note)
		return &tls.Certificate{}, nil
	}
	return cfg
}

// acceptableCAs describes the CAs a CertificateRequest names.
func acceptableCAs(raw [][]byte) string {
	var names []string
	for _, der := range raw {
		var rdn pkix.RDNSequence
		if _, err := asn1.Unmarshal(der, &rdn); err == nil {
			var n pkix.Name
			n.FillFromRDNSequence(&rdn)
			names = append(names, n.String())
		}
	}
	if len(names) == 0 {
		return ""
	}
	return " issued by " + strings.Join(names, " or ")
}

func issuedBy(c *tls.Certificate) string {
	leaf := c.Leaf
	if leaf == nil && len(c.Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(c.Certificate[0])
	}
	if leaf == nil {
		return " certificate"
	}
	return fmt.Sprintf(" certificate (%s, issued by %s)", leaf.Subject, leaf.Issuer)
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" {
		return t.cleartext.RoundTrip(req)
	}
	resp, err := t.tls.RoundTrip(req)
	if err == nil {
		t.certRequest.Store(nil)
		return resp, nil
	}
	err = classifyTransportError(err)
	if note := t.certRequest.Load(); note != nil {
		af, ok := AsAuthFailure(err)
		switch {
		case !ok:
			return nil, &AuthFailure{Kind: AuthClientCertificate, Detail: *note + " (" + err.Error() + ")", Err: err}
		case af.Kind == AuthClientCertificate:
			return nil, &AuthFailure{Kind: AuthClientCertificate, Detail: *note + " (" + af.Detail + ")", Err: err}
		}
	}
	return nil, err
}

// CloseIdleConnections closes idle connections of both schemes.
func (t *Transport) CloseIdleConnections() {
	t.cleartext.CloseIdleConnections()
	t.tls.CloseIdleConnections()
}

// Option configures a NEFClient or PCFClient.
type Option func(*clientOptions)

type clientOptions struct {
	now func() time.Time
}

// WithClock sets the clock that turns SessionSpec.ExpiresAt into the
// duration the core is asked to keep a session (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *clientOptions) { o.now = now }
}

func buildOptions(opts []Option) clientOptions {
	o := clientOptions{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// apiRoot validates a core endpoint and returns it as the {apiRoot} of the
// 3GPP URIs (TS 29.501 §4.4.1): scheme, authority and an optional path
// prefix, without a trailing slash. A base path pasted by mistake
// ("…/npcf-policyauthorization/v1") is removed.
func apiRoot(endpoint, basePath string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return "", fmt.Errorf("core endpoint %q: %w", endpoint, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("core endpoint %q: want http:// or https:// with a host", endpoint)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("core endpoint %q: an apiRoot has no query or fragment", endpoint)
	}
	root := strings.TrimSuffix(u.String(), "/")
	root = strings.TrimSuffix(root, basePath)
	return strings.TrimSuffix(root, "/"), nil
}

// instrument returns a copy of hc (a default client when nil) that does not
// follow redirects and records each answer's status, headers and, for a
// non-2xx, body: the generated free5gc clients drop the status when an error
// body is not the JSON they expect, and report a 303 only as an error.
func instrument(hc *http.Client) *http.Client {
	if hc == nil {
		hc = NewHTTPClient(DefaultTimeout)
	}
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = &recordingTransport{base: base}
	c.CheckRedirect = noRedirects
	return &c
}

// maxRecordedBody caps how much of an error answer is kept.
const maxRecordedBody = 64 << 10

// exchange is what the core answered to one call.
type exchange struct {
	status int
	header http.Header
	body   bytes.Buffer
}

type exchangeKey struct{}

// withExchange returns a context under which the answer of one call is
// recorded in the returned exchange.
func withExchange(ctx context.Context) (context.Context, *exchange) {
	ex := &exchange{}
	return context.WithValue(ctx, exchangeKey{}, ex), ex
}

type recordingTransport struct{ base http.RoundTripper }

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, classifyTransportError(err)
	}
	if ex, ok := req.Context().Value(exchangeKey{}).(*exchange); ok {
		ex.status = resp.StatusCode
		ex.header = resp.Header.Clone()
		if resp.StatusCode >= 300 && resp.Body != nil {
			resp.Body = &teeBody{ReadCloser: resp.Body, ex: ex}
		}
	}
	return resp, nil
}

func (t *recordingTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type teeBody struct {
	io.ReadCloser
	ex *exchange
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if room := maxRecordedBody - b.ex.body.Len(); room > 0 {
		b.ex.body.Write(p[:min(n, room)])
	}
	return n, err
}

// problemDetails holds the fields of TS 29.571 ProblemDetails (and the NEF's
// and PCF's variants of it) that an Error carries.
type problemDetails struct {
	Status int    `json:"status"`
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Cause  string `json:"cause"`
}

// parseProblem reads a ProblemDetails body; ok is false when the body is not
// one.
func parseProblem(body []byte) (problemDetails, bool) {
	var pd problemDetails
	if err := json.Unmarshal(body, &pd); err != nil {
		return pd, false
	}
	return pd, pd != (problemDetails{})
}

// answer is the status and body of a failed call, from the generated
// client's error or, when that lost them, from the recorded exchange.
func answer(err error, ex *exchange) (int, []byte) {
	var ge openapi.GenericOpenAPIError
	if errors.As(err, &ge) && ge.ErrorStatus != 0 {
		body := ge.RawBody
		if len(body) == 0 && ex != nil {
			body = ex.body.Bytes()
		}
		return ge.ErrorStatus, body
	}
	var gp *openapi.GenericOpenAPIError
	if errors.As(err, &gp) && gp != nil && gp.ErrorStatus != 0 {
		return gp.ErrorStatus, gp.RawBody
	}
	if ex != nil && ex.status != 0 {
		return ex.status, ex.body.Bytes()
	}
	return 0, nil
}

// callError turns what a generated client returned into an *Error: the
// status and ProblemDetails when the core answered, StatusCode 0 when it was
// not reached.
func callError(op string, err error, ex *exchange) *Error {
	if err == nil {
		err = errors.New("no answer")
	}
	status, body := answer(err, ex)
	if status == 0 {
		e := &Error{Op: op, Detail: err.Error()}
		e.Auth, _ = AsAuthFailure(err)
		return e
	}
	e := &Error{Op: op, StatusCode: status}
	if status < 300 {
		// The core said yes in a form the models do not read.
		e.Detail = "unreadable answer: " + err.Error()
		return e
	}
	pd, isProblem := parseProblem(body)
	e.Cause = pd.Cause
	e.Detail = pd.Detail
	if e.Detail == "" {
		e.Detail = pd.Title
	}
	if e.Detail == "" {
		e.Detail = http.StatusText(status)
		// A short non-JSON body (a proxy's or a plain server's) says more.
		if text := strings.TrimSpace(string(body)); !isProblem && text != "" && len(text) <= 200 {
			e.Detail = text
		}
	}
	e.Auth = accessDenied(e, ex)
	return e
}

// accessDenied is the AuthFailure of an answer that refused the caller's
// credentials: a 401, or a 403 with a WWW-Authenticate challenge (RFC 6750
// §3.1 insufficient_scope). Other 403s are the API's own refusals
// (TS 29.514 REQUESTED_SERVICE_NOT_AUTHORIZED and the like) and not about
// credentials.
func accessDenied(e *Error, ex *exchange) *AuthFailure {
	challenge := ""
	if ex != nil && ex.header != nil {
		challenge = ex.header.Get("WWW-Authenticate")
	}
	switch {
	case e.StatusCode == http.StatusUnauthorized:
	case e.StatusCode == http.StatusForbidden && challenge != "":
	default:
		return nil
	}
	detail := fmt.Sprintf("the core answered %d %s", e.StatusCode, e.Detail)
	if challenge != "" {
		detail += " (WWW-Authenticate: " + challenge + ")"
	}
	return &AuthFailure{Kind: AuthAccessDenied, Detail: detail}
}

// notFound marks a 404 answer about a session as ErrNotFound while keeping
// the *Error (and so its ProblemDetails) reachable with errors.As.
func notFound(e *Error) error {
	if e.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w: %w", ErrNotFound, e)
	}
	return e
}

// invalid is an *Error for a spec that cannot be sent to this API.
func invalid(op, format string, args ...any) *Error {
	return &Error{Op: op, Invalid: true, Detail: fmt.Sprintf(format, args...)}
}

// boundSeconds is the UsageThreshold.duration (TS 29.122 common data type,
// DurationSec: whole seconds, here rounded up) after which the core ends a
// session that expires at expiresAt. Every core session must be bounded, so a spec without an
// expiry, or one already past, is refused.
func boundSeconds(op string, now, expiresAt time.Time) (int32, error) {
	if expiresAt.IsZero() {
		return 0, invalid(op, "the session has no ExpiresAt; every core session must be bounded in time")
	}
	d := expiresAt.Sub(now)
	if d <= 0 {
		return 0, invalid(op, "ExpiresAt %s is not after now (%s)", expiresAt.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	secs := math.Ceil(d.Seconds())
	if secs > math.MaxInt32 {
		secs = math.MaxInt32
	}
	return int32(secs), nil
}

// idAfter returns the resource ID in a resource URI (a Location header or a
// self link): the path segment after the last one named collection, else the
// last segment.
func idAfter(uri, collection string) string {
	if uri == "" {
		return ""
	}
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.Trim(u.EscapedPath(), "/"), "/")
	pick := segs[len(segs)-1]
	for i := len(segs) - 2; i >= 0; i-- {
		if segs[i] == collection {
			pick = segs[i+1]
			break
		}
	}
	id, err := url.PathUnescape(pick)
	if err != nil {
		return ""
	}
	return id
}

// sessionAddress is the one UE address a session is bound to: IPv4 when the
// device has one, else IPv6 (both APIs take one address per session; the
// PCF's schema makes them mutually exclusive).
func sessionAddress(ue UE) (ipv4, ipv6 string) {
	a, ok := ueAddress(ue)
	switch {
	case !ok:
		return "", ""
	case a.Is4():
		return a.String(), ""
	default:
		return "", a.String()
	}
}

// flowPairs splits flow descriptions into the at most two per IP flow that
// NEF FlowInfo.flowDescriptions (TS 29.122 common data) and PCF
// MediaSubComponent.fDescs (TS 29.514 §5.6.2) allow (maxItems: 2 in both
// schemas); FlowDescriptions emits them as downlink/uplink pairs.
func flowPairs(descs []string) [][]string {
	var out [][]string
	for i := 0; i < len(descs); i += 2 {
		out = append(out, descs[i:min(i+2, len(descs))])
	}
	return out
}
