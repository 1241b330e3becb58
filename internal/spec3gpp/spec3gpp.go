// Package spec3gpp checks HTTP traffic against the 3GPP Release 17 OpenAPI
// descriptions of the two southbound APIs medslice speaks: NEF
// AsSessionWithQoS (TS 29.122 §5.14) and PCF Npcf_PolicyAuthorization
// (TS 29.514). It is test support: the schemas are read from a folder outside
// the repository (see Dir), never copied into it.
package spec3gpp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// EnvDir names the environment variable that points at the folder holding
// the 3GPP OpenAPI YAML files.
const EnvDir = "MEDSLICE_3GPP_SPECS"

// Where to get the files when they are missing.
const sourceHint = "the 3GPP Release 17 OpenAPI files (TS29122_AsSessionWithQoS.yaml, " +
	"TS29514_Npcf_PolicyAuthorization.yaml and their $ref closure) are published with " +
	"3GPP TS 29.122 / TS 29.514 and collected in the jdegre/5GC_APIs repository, branch Rel-17"

// API is one 3GPP API description and where its resources live.
type API struct {
	// Name is the entry point file name, e.g. TS29122_AsSessionWithQoS.yaml.
	Name string
	// BasePath is the path after {apiRoot}, e.g. /3gpp-as-session-with-qos/v1.
	BasePath string
	// Doc is the loaded description with every $ref resolved.
	Doc *openapi3.T
}

// The entry points and their base paths (the servers entry of each file,
// without the {apiRoot} variable).
var entryPoints = []struct{ file, basePath string }{
	{"TS29122_AsSessionWithQoS.yaml", "/3gpp-as-session-with-qos/v1"},
	{"TS29514_Npcf_PolicyAuthorization.yaml", "/npcf-policyauthorization/v1"},
}

// Specs validates requests and responses of the NEF AsSessionWithQoS and PCF
// Npcf_PolicyAuthorization APIs. It is immutable once loaded and safe for
// concurrent use.
type Specs struct {
	Dir  string
	APIs []*API
}

// ErrNoRoute is returned for a request that no operation of the loaded APIs
// describes (wrong base path, unknown resource or method).
var ErrNoRoute = errors.New("no 3GPP operation matches")

// Dir returns the folder holding the 3GPP YAML files: $MEDSLICE_3GPP_SPECS
// when set, else ../shared/3gpp/rel17 next to the repository root (the first
// directory upwards from the working directory that holds go.mod).
func Dir() (string, error) {
	if d := os.Getenv(EnvDir); d != "" {
		return d, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding the repository root: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, "..", "shared", "3gpp", "rel17"), nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s; set %s", wd, EnvDir)
		}
	}
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*Specs{}
)

// Load returns the specs from Dir, loading them once per process. It skips the
// test when the folder is absent, saying where to get the files, and fails it
// when the files are there but do not load.
func Load(tb testing.TB) *Specs {
	tb.Helper()
	dir, err := Dir()
	if err != nil {
		tb.Skipf("3GPP OpenAPI files not found (%v); %s; point %s at the folder", err, sourceHint, EnvDir)
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, entryPoints[0].file)); err != nil {
		tb.Skipf("3GPP OpenAPI files not found in %s; %s; point %s at the folder", dir, sourceHint, EnvDir)
		return nil
	}
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if s, ok := cache[dir]; ok {
		return s
	}
	s, err := LoadDir(dir)
	if err != nil {
		tb.Fatalf("loading 3GPP OpenAPI files: %v", err)
		return nil
	}
	cache[dir] = s
	return s
}

// LoadDir loads both entry points from dir, resolving their $refs to the
// other files of the folder.
func LoadDir(dir string) (*Specs, error) {
	s := &Specs{Dir: dir}
	for _, ep := range entryPoints {
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = true
		doc, err := loader.LoadFromFile(filepath.Join(dir, ep.file))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ep.file, err)
		}
		s.APIs = append(s.APIs, &API{Name: ep.file, BasePath: ep.basePath, Doc: doc})
	}
	return s, nil
}

// options are shared by every validation. The 3GPP files declare an oauth2
// security scheme; authorisation is not what these checks are about.
var options = &openapi3filter.Options{
	AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
	IncludeResponseStatus: true,
	MultiError:            true,
}

// route finds the operation for req. The 3GPP servers entries are
// "{apiRoot}/<base path>", which kin-openapi's routers cannot match against an
// arbitrary host, so the base path is located in the request path (whatever
// precedes it is the apiRoot's own path) and the rest is matched against the
// path templates here.
func (s *Specs) route(req *http.Request) (*routers.Route, map[string]string, error) {
	p := req.URL.EscapedPath()
	for _, api := range s.APIs {
		i := strings.Index(p, api.BasePath)
		if i < 0 {
			continue
		}
		rest := p[i+len(api.BasePath):]
		if rest != "" && rest[0] != '/' {
			continue
		}
		tmpl, item, params, err := matchPath(api.Doc, rest)
		if err != nil {
			return nil, nil, err
		}
		op := item.GetOperation(strings.ToUpper(req.Method))
		if op == nil {
			return nil, nil, fmt.Errorf("%w: %s %s (method not allowed on %s%s)", ErrNoRoute, req.Method, p, api.BasePath, tmpl)
		}
		var server *openapi3.Server
		if len(api.Doc.Servers) > 0 {
			server = api.Doc.Servers[0]
		}
		return &routers.Route{
			Spec:      api.Doc,
			Server:    server,
			Path:      tmpl,
			PathItem:  item,
			Method:    strings.ToUpper(req.Method),
			Operation: op,
		}, params, nil
	}
	return nil, nil, fmt.Errorf("%w: %s %s (no known base path)", ErrNoRoute, req.Method, p)
}

// matchPath matches an escaped path (after the base path) against the
// templates of doc. A template with more literal segments wins over one with
// parameters in their place.
func matchPath(doc *openapi3.T, escaped string) (string, *openapi3.PathItem, map[string]string, error) {
	segs := strings.Split(strings.Trim(escaped, "/"), "/")
	var (
		bestTmpl   string
		bestItem   *openapi3.PathItem
		bestParams map[string]string
		bestScore  = -1
	)
	for tmpl, item := range doc.Paths.Map() {
		tsegs := strings.Split(strings.Trim(tmpl, "/"), "/")
		if len(tsegs) != len(segs) {
			continue
		}
		params := map[string]string{}
		score := 0
		ok := true
		for i, ts := range tsegs {
			if strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}") {
				v, err := url.PathUnescape(segs[i])
				if err != nil || v == "" {
					ok = false
					break
				}
				params[ts[1:len(ts)-1]] = v
				continue
			}
			if ts != segs[i] {
				ok = false
				break
			}
			score++
		}
		if ok && (score > bestScore || score == bestScore && tmpl < bestTmpl) {
			bestTmpl, bestItem, bestParams, bestScore = tmpl, item, params, score
		}
	}
	if bestItem == nil {
		return "", nil, nil, fmt.Errorf("%w: no path template matches %q", ErrNoRoute, escaped)
	}
	return bestTmpl, bestItem, bestParams, nil
}

// ValidateRequest checks req (method, path parameters, query, body) against
// the operation it addresses. The body is restored, so the caller can still
// send or read it.
func (s *Specs) ValidateRequest(req *http.Request) error {
	input, err := s.requestInput(req, true)
	if err != nil {
		return err
	}
	if err := openapi3filter.ValidateRequest(context.Background(), input); err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// ValidateResponse checks resp (status, headers, body) against the operation
// req addressed. The response body is restored.
func (s *Specs) ValidateResponse(req *http.Request, resp *http.Response) error {
	// The request body is left alone: with HTTP/2 the transport may still be
	// sending it when the response arrives.
	input, err := s.requestInput(req, false)
	if err != nil {
		return err
	}
	body, err := drain(&resp.Body)
	if err != nil {
		return fmt.Errorf("reading response body: %w", err)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: input,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                options,
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s %s -> %d: %w", req.Method, req.URL.Path, resp.StatusCode, err)
	}
	return nil
}

// requestInput routes req and, when withBody is set, gives the validator its
// own copy of the body, leaving req.Body readable from the start.
func (s *Specs) requestInput(req *http.Request, withBody bool) (*openapi3filter.RequestValidationInput, error) {
	route, params, err := s.route(req)
	if err != nil {
		return nil, err
	}
	clone := req.Clone(context.Background())
	clone.Body = http.NoBody
	if withBody && req.Body != nil && req.Body != http.NoBody {
		body, err := drain(&req.Body)
		if err != nil {
			return nil, fmt.Errorf("reading request body: %w", err)
		}
		clone.Body = io.NopCloser(bytes.NewReader(body))
	}
	return &openapi3filter.RequestValidationInput{
		Request:    clone,
		PathParams: params,
		Route:      route,
		Options:    options,
	}, nil
}

// drain reads *body to the end and replaces it with a reader over the same
// bytes.
func drain(body *io.ReadCloser) ([]byte, error) {
	if *body == nil || *body == http.NoBody {
		return nil, nil
	}
	data, err := io.ReadAll(*body)
	_ = (*body).Close()
	*body = io.NopCloser(bytes.NewReader(data))
	return data, err
}

// Transport returns a RoundTripper that validates every request before base
// sends it and every response base returns, reporting each mismatch with
// tb.Errorf. Traffic is passed on unchanged, so a test sees both the
// schema failure and what the peer did with the message. It works for any
// protocol base speaks (HTTP/1.1, HTTP/2, h2c).
func (s *Specs) Transport(base http.RoundTripper, tb testing.TB) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &validatingTransport{specs: s, base: base, tb: tb}
}

type validatingTransport struct {
	specs *Specs
	base  http.RoundTripper
	tb    testing.TB
}

func (t *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	// RoundTrip must not modify req: validate a copy whose body is buffered,
	// and send a second copy over the same bytes.
	out := req.Clone(req.Context())
	if req.Body != nil && req.Body != http.NoBody {
		body, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("reading request body: %w", err)
		}
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		out.ContentLength = int64(len(body))
	}
	if err := t.specs.ValidateRequest(out); err != nil {
		t.tb.Errorf("3GPP schema: request: %v", err)
	}
	resp, err := t.base.RoundTrip(out)
	if err != nil {
		return resp, err
	}
	if err := t.specs.ValidateResponse(out, resp); err != nil {
		t.tb.Errorf("3GPP schema: response: %v", err)
	}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach base.
func (t *validatingTransport) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
