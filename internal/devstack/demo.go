package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// DemoUser is the surgery team the dev stack signs into the console as:
// a ServiceAccount allowed to book and watch slices in one namespace only.
const (
	DemoNamespace = "or-3"
	DemoUser      = "or3-team"
)

// DemoToken creates the demo team's identity and permissions and returns a
// bearer token for it (also written to StateDir/demo-token).
func (s *Stack) DemoToken(ctx context.Context) (string, error) {
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: DemoNamespace, Name: DemoUser}},
		&rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Namespace: DemoNamespace, Name: "medslice-requester"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{"medslice.io"}, Resources: []string{"medicalslices"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
				{APIGroups: []string{"events.k8s.io"}, Resources: []string{"events"}, Verbs: []string{"get", "list", "watch"}},
			},
		},
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: DemoNamespace, Name: DemoUser},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "medslice-requester"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: DemoNamespace, Name: DemoUser}},
		},
		&rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "medslice-catalog-reader"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"medslice.io"}, Resources: []string{"sliceprofiles", "corenetworks"}, Verbs: []string{"get", "list", "watch"}}},
		},
		&rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: DemoUser + "-catalog"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "medslice-catalog-reader"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: DemoNamespace, Name: DemoUser}},
		},
	}
	for _, o := range objs {
		if err := s.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("demo user: %w", err)
		}
	}
	cs, err := kubernetes.NewForConfig(s.Config)
	if err != nil {
		return "", err
	}
	day := int64(24 * 3600)
	tr, err := cs.CoreV1().ServiceAccounts(DemoNamespace).CreateToken(ctx, DemoUser,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &day}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("demo token: %w", err)
	}
	if err := os.WriteFile(filepath.Join(s.StateDir, "demo-token"), []byte(tr.Status.Token+"\n"), 0o600); err != nil {
		return "", err
	}
	return tr.Status.Token, nil
}
