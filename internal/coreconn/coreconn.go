// Package coreconn keeps one core client per CoreNetwork, rebuilt when the
// CoreNetwork changes, and instruments every call with metrics.
package coreconn

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
	"github.com/medslice/medslice/internal/metrics"
)

// Pool hands out clients for CoreNetworks.
type Pool struct {
	// Timeout bounds every request to a core.
	Timeout time.Duration

	mu      sync.Mutex
	clients map[string]entry
}

type entry struct {
	generation int64
	client     core.Client
}

// ClientFor returns the client for cn, building it when cn is new or changed.
func (p *Pool) ClientFor(_ context.Context, cn *v1alpha1.CoreNetwork) (core.Client, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.clients[cn.Name]; ok && e.generation == cn.Generation {
		return e.client, nil
	}
	c, err := build(cn, p.httpClient())
	if err != nil {
		return nil, err
	}
	c = Instrument(c, cn.Name)
	if p.clients == nil {
		p.clients = map[string]entry{}
	}
	p.clients[cn.Name] = entry{generation: cn.Generation, client: c}
	return c, nil
}

func (p *Pool) httpClient() *http.Client {
	t := p.Timeout
	if t == 0 {
		t = 10 * time.Second
	}
	return core.NewHTTPClient(t)
}

func build(cn *v1alpha1.CoreNetwork, hc *http.Client) (core.Client, error) {
	if cn.Spec.Auth.OAuth2 != nil || cn.Spec.Auth.TLS != nil {
		return nil, errors.New("spec.auth (OAuth2, mutual TLS) is not supported yet: remove it or use a core that accepts this operator without credentials")
	}
	switch cn.Spec.API {
	case v1alpha1.CoreAPINEF:
		return core.NewNEFClient(cn.Spec.Endpoint, cn.Spec.AFID, hc)
	case v1alpha1.CoreAPIPCF:
		return core.NewPCFClient(cn.Spec.Endpoint, hc)
	default:
		return nil, fmt.Errorf("unknown core API %q: use NEF or PCF", cn.Spec.API)
	}
}

// Instrument wraps c so that every call is counted and timed.
func Instrument(c core.Client, coreName string) core.Client {
	return &instrumented{next: c, core: coreName}
}

type instrumented struct {
	next core.Client
	core string
}

var _ core.Client = (*instrumented)(nil)

func (i *instrumented) observe(op string, start time.Time, err error) {
	result := "success"
	var ce *core.Error
	switch {
	case err == nil:
	case errors.Is(err, core.ErrNotFound):
		result = "not_found"
	case errors.As(err, &ce) && ce.StatusCode == 0:
		result = "unreachable"
	case errors.As(err, &ce):
		result = fmt.Sprintf("%dxx", ce.StatusCode/100)
	default:
		result = "error"
	}
	metrics.CoreRequests.WithLabelValues(i.core, op, result).Inc()
	metrics.CoreRequestDuration.WithLabelValues(i.core, op, result).Observe(time.Since(start).Seconds())
}

func (i *instrumented) Create(ctx context.Context, s core.SessionSpec) (core.Session, error) {
	start := time.Now()
	out, err := i.next.Create(ctx, s)
	i.observe("create", start, err)
	return out, err
}

func (i *instrumented) Get(ctx context.Context, id string) (core.Session, error) {
	start := time.Now()
	out, err := i.next.Get(ctx, id)
	i.observe("get", start, err)
	return out, err
}

func (i *instrumented) Update(ctx context.Context, id string, s core.SessionSpec) (core.Session, error) {
	start := time.Now()
	out, err := i.next.Update(ctx, id, s)
	i.observe("update", start, err)
	return out, err
}

func (i *instrumented) Delete(ctx context.Context, id string) error {
	start := time.Now()
	err := i.next.Delete(ctx, id)
	i.observe("delete", start, err)
	return err
}

func (i *instrumented) List(ctx context.Context) ([]core.Session, error) {
	start := time.Now()
	out, err := i.next.List(ctx)
	if !errors.Is(err, core.ErrNotSupported) {
		i.observe("list", start, err)
	}
	return out, err
}

func (i *instrumented) Ping(ctx context.Context) error {
	start := time.Now()
	err := i.next.Ping(ctx)
	i.observe("ping", start, err)
	return err
}
