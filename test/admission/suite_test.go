// Package admission tests who may promote: Kargo's admission webhook
// (internal/admission), served by the manager on the envtest API server,
// and the Project roles of config/rbac (kargo-project-viewer, -promoter,
// -admin). Users are made by envtest (certificate users, authorized by
// RBAC); no Swarm is needed: the manager starts without one, and the tests
// create no Environment.
package admission

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/testenv"
	"github.com/kargo-io/kargo/internal/testmanager"
)

// namespacePrefix starts the namespaces (Projects) of this package's tests.
const namespacePrefix = "adm-"

var (
	// k8s is an admin (system:masters) of the API server, reading and
	// writing it directly.
	k8s    client.Client
	apiEnv *envtest.Environment
	scheme = runtime.NewScheme()
)

// projectRoles are the ClusterRoles of config/rbac, as that directory
// names them (config/default prefixes them with kargo-).
var projectRoles = []string{"project_viewer_role.yaml", "project_promoter_role.yaml", "project_admin_role.yaml"}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "admission:", err)
		return 1
	}
	_ = clientgoscheme.AddToScheme(scheme)
	_ = kargov1.AddToScheme(scheme)
	env, _, err := testenv.StartAPIServer()
	if err != nil {
		return fail(err)
	}
	defer func() { _ = env.Stop() }()
	apiEnv = env
	mgr, err := testmanager.Start(env, "0", controllers.Settings{})
	if err != nil {
		return fail(err)
	}
	defer mgr.Stop()
	k8s = mgr.Client
	// The roles are cluster-wide: applied once for every test, as
	// config/rbac has them.
	root, err := testenv.RepoRoot()
	if err != nil {
		return fail(err)
	}
	for _, file := range projectRoles {
		role, err := readClusterRole(filepath.Join(root, "config", "rbac", file))
		if err != nil {
			return fail(err)
		}
		if err := k8s.Create(ctx, role); err != nil {
			return fail(fmt.Errorf("apply %s: %w", file, err))
		}
	}
	return m.Run()
}

func readClusterRole(path string) (*rbacv1.ClusterRole, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var role rbacv1.ClusterRole
	if err := yaml.UnmarshalStrict(data, &role); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &role, nil
}
