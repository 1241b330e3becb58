package coreconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/medslice/medslice/api/v1alpha1"
	"github.com/medslice/medslice/internal/core"
)

// Keys of the Secrets that spec.auth names.
const (
	KeyTokenURL     = "tokenURL"
	KeyClientID     = "clientID"
	KeyClientSecret = "clientSecret"
	KeyCACert       = "ca.crt"
	// corev1.TLSCertKey and corev1.TLSPrivateKeyKey: tls.crt, tls.key.
)

// credentials are what spec.auth resolves to, with what the messages need
// to say where each piece came from.
type credentials struct {
	core.Credentials
	// version changes whenever a referenced Secret does.
	version string
	// oauth2Secret and tlsSecret name the Secrets ("ns/name"), empty when
	// not configured.
	oauth2Secret, tlsSecret string
}

// resolve reads the Secrets cn.spec.auth names and builds the credentials.
// A missing Secret, a missing key or unreadable PEM is a *core.AuthFailure
// of kind AuthCredentials whose message names the Secret and the key.
func (p *Pool) resolve(ctx context.Context, cn *v1alpha1.CoreNetwork) (credentials, error) {
	var cr credentials
	auth := cn.Spec.Auth
	if auth.OAuth2 == nil && auth.TLS == nil {
		return cr, nil
	}
	if p.Secrets == nil || p.Namespace == "" {
		return cr, credentialsFailure("spec.auth is set, but this operator was started without access to Secrets: configure the pool's Secrets reader and namespace")
	}
	var versions []string
	if ref := auth.OAuth2; ref != nil {
		sec, err := p.secret(ctx, "spec.auth.oauth2", ref.Name, "keys tokenURL, clientID and clientSecret")
		if err != nil {
			return cr, err
		}
		cr.oauth2Secret = p.Namespace + "/" + ref.Name
		o, err := oauth2From(sec, cr.oauth2Secret, cn.Spec.API)
		if err != nil {
			return cr, err
		}
		cr.OAuth2 = o
		versions = append(versions, "oauth2="+sec.ResourceVersion)
	}
	if ref := auth.TLS; ref != nil {
		sec, err := p.secret(ctx, "spec.auth.tls", ref.Name, "type kubernetes.io/tls: keys tls.crt, tls.key and optionally ca.crt")
		if err != nil {
			return cr, err
		}
		cr.tlsSecret = p.Namespace + "/" + ref.Name
		cfg, err := tlsFrom(sec, cr.tlsSecret, p.now())
		if err != nil {
			return cr, err
		}
		cr.TLS = cfg
		versions = append(versions, "tls="+sec.ResourceVersion)
	}
	cr.version = strings.Join(versions, ",")
	return cr, nil
}

func (p *Pool) secret(ctx context.Context, field, name, wants string) (*corev1.Secret, error) {
	var sec corev1.Secret
	err := p.Secrets.Get(ctx, types.NamespacedName{Namespace: p.Namespace, Name: name}, &sec)
	switch {
	case apierrors.IsNotFound(err):
		return nil, credentialsFailure("Secret %s/%s named by %s does not exist: create it in namespace %s with %s",
			p.Namespace, name, field, p.Namespace, wants)
	case apierrors.IsForbidden(err):
		return nil, credentialsFailure("the operator may not read Secret %s/%s named by %s: %v", p.Namespace, name, field, err)
	case err != nil:
		return nil, fmt.Errorf("reading Secret %s/%s named by %s: %w", p.Namespace, name, field, err)
	}
	return &sec, nil
}

func oauth2From(sec *corev1.Secret, where string, api v1alpha1.CoreAPI) (*core.OAuth2Credentials, error) {
	// Values are trimmed: a trailing newline from `kubectl create secret
	// --from-file` is the classic way to break client credentials.
	get := func(k string) string { return strings.TrimSpace(string(sec.Data[k])) }
	var missing []string
	for _, k := range []string{KeyTokenURL, KeyClientID, KeyClientSecret} {
		if get(k) == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, credentialsFailure("Secret %s lacks %s: spec.auth.oauth2 needs keys tokenURL, clientID and clientSecret",
			where, keyList(missing))
	}
	u, err := url.Parse(get(KeyTokenURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, credentialsFailure("key tokenURL of Secret %s is %q: want the token endpoint's http:// or https:// URL, e.g. https://nrf.example/oauth2/token",
			where, get(KeyTokenURL))
	}
	o := &core.OAuth2Credentials{TokenURL: u.String(), ClientID: get(KeyClientID), ClientSecret: get(KeyClientSecret)}
	if api == v1alpha1.CoreAPIPCF {
		o.Scopes = []string{core.PCFScope}
	}
	return o, nil
}

func tlsFrom(sec *corev1.Secret, where string, now time.Time) (*tls.Config, error) {
	var missing []string
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
		if len(sec.Data[k]) == 0 {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, credentialsFailure("Secret %s lacks %s: spec.auth.tls needs a kubernetes.io/tls Secret with keys tls.crt and tls.key (and optionally ca.crt)",
			where, keyList(missing))
	}
	if !hasPEM(sec.Data[corev1.TLSCertKey], "CERTIFICATE") {
		return nil, credentialsFailure("key tls.crt of Secret %s holds no PEM certificate (-----BEGIN CERTIFICATE-----)", where)
	}
	if !hasPEM(sec.Data[corev1.TLSPrivateKeyKey], "PRIVATE KEY") {
		return nil, credentialsFailure("key tls.key of Secret %s holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)", where)
	}
	cert, err := tls.X509KeyPair(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, credentialsFailure("keys tls.crt and tls.key of Secret %s are not a usable certificate and key: %v", where, err)
	}
	if leaf := cert.Leaf; leaf != nil {
		switch {
		case now.After(leaf.NotAfter):
			return nil, credentialsFailure("the certificate in tls.crt of Secret %s (%s) expired at %s: put a renewed certificate and its key there",
				where, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
		case now.Before(leaf.NotBefore):
			return nil, credentialsFailure("the certificate in tls.crt of Secret %s (%s) is not valid before %s: check the issuer's clock or wait",
				where, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
		}
	}
	var roots *x509.CertPool // nil: the system's CAs
	if ca := sec.Data[KeyCACert]; len(ca) > 0 {
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(ca) {
			return nil, credentialsFailure("key ca.crt of Secret %s holds no PEM certificate: put the CA that signed the core's certificate there, or remove the key to trust the system's CAs", where)
		}
	}
	return core.TLSConfig(&cert, roots), nil
}

func hasPEM(data []byte, typeSuffix string) bool {
	for len(data) > 0 {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if strings.HasSuffix(b.Type, typeSuffix) {
			return true
		}
	}
	return false
}

func keyList(keys []string) string {
	slices.Sort(keys)
	if len(keys) == 1 {
		return "key " + keys[0]
	}
	return "keys " + strings.Join(keys, ", ")
}

func credentialsFailure(format string, args ...any) *core.AuthFailure {
	return &core.AuthFailure{Kind: core.AuthCredentials, Detail: fmt.Sprintf(format, args...)}
}

// explain turns an AuthFailure from a call into a message that says what
// to fix, naming the Secret and key involved.
func explain(cn *v1alpha1.CoreNetwork, cr credentials, err error) error {
	af, ok := core.AsAuthFailure(err)
	if !ok {
		return err
	}
	var fix string
	switch af.Kind {
	case core.AuthCredentials:
		return err // already names the Secret and the key
	case core.AuthTokenRefused:
		fix = fmt.Sprintf("check clientID and clientSecret in Secret %s, and that the token endpoint knows this client", cr.oauth2Secret)
		if len(cr.OAuth2.Scopes) > 0 {
			fix += fmt.Sprintf(" and grants it scope %q", strings.Join(cr.OAuth2.Scopes, " "))
		}
	case core.AuthServerCertificate:
		if cr.tlsSecret != "" {
			fix = fmt.Sprintf("put the CA that signed the core's certificate in key ca.crt of Secret %s", cr.tlsSecret)
		} else {
			fix = "set spec.auth.tls to a kubernetes.io/tls Secret whose ca.crt holds the CA that signed the core's certificate"
		}
	case core.AuthClientCertificate:
		if cr.tlsSecret != "" {
			fix = fmt.Sprintf("the core does not accept the client certificate in tls.crt of Secret %s: it must be issued by a CA the core trusts, for this client, and be valid", cr.tlsSecret)
		} else {
			fix = "the core may require a client certificate: set spec.auth.tls to a kubernetes.io/tls Secret with keys tls.crt and tls.key"
		}
	case core.AuthAccessDenied:
		if cr.OAuth2 == nil {
			fix = "the core wants an access token: set spec.auth.oauth2 to a Secret with keys tokenURL, clientID and clientSecret"
		} else {
			fix = fmt.Sprintf("the core refused the access token of client %q from %s (Secret %s): check that the core trusts this token endpoint and lets this client use its %s API",
				cr.OAuth2.ClientID, cr.OAuth2.TokenURL, cr.oauth2Secret, cn.Spec.API)
		}
	default:
		return err
	}
	return &core.AuthFailure{Kind: af.Kind, Detail: af.Detail + ": " + fix, Err: err}
}
