package cli

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/admission"
	"github.com/kargo-io/kargo/internal/swarm"
)

func newManagerCommand() *cobra.Command {
	var flags managerFlags
	cmd := &cobra.Command{
		Use:   "manager",
		Short: "Run the controllers (the default command)",
		Long: `Runs the Kargo controllers against the cluster of the current kubeconfig (or
the in-cluster config): Environments, Stacks and Services are reconciled onto
their Swarms. This is what kargo runs without a subcommand.`,
		Example: `  kargo manager
  kargo manager --leader-elect --metrics-bind-address :8443 --zap-log-level debug`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runManager(&flags)
		},
	}
	f := cmd.Flags()
	f.StringVar(&flags.metricsAddr, "metrics-bind-address", ":8080", "address of the Prometheus metrics endpoint; 0 disables it")
	f.StringVar(&flags.probeAddr, "health-probe-bind-address", ":8081", "address of the /healthz and /readyz probes")
	f.StringVar(&flags.pprofAddr, "pprof-bind-address", "", "address of the Go profiler (/debug/pprof/); empty or 0 disables it")
	f.IntVar(&flags.settings.MaxConcurrentReconciles, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles, "how many Environments, Stacks and Services of each kind are reconciled at once (the engine clients keep connections open for them)")
	f.StringVar(&flags.settings.ClusterResourceNamespace, "cluster-resource-namespace", managerNamespace(), "namespace of the TLS Secrets and variablesFrom sources of ClusterEnvironments (default: $POD_NAMESPACE, the manager's own)")
	f.StringVar(&flags.settings.ManagerID, "manager-id", "", "identity of this installation on the Swarms (label swarm.kargo.io/manager on every object it creates); default: the UID of the kube-system namespace")
	f.DurationVar(&flags.settings.EngineRequestTimeout, "engine-request-timeout", swarm.DefaultRequestTimeout, "how long an Engine API request waits for an answer (the event stream excepted): a stalled endpoint holds a reconcile that long at most")
	f.BoolVar(&flags.leaderElect, "leader-elect", false, "elect a leader so that only one manager replica reconciles")
	f.Var(&flags.settings.Endpoints.Allowed, "allowed-endpoints", "comma-separated patterns of the Docker endpoints Environments may use: host:port (* within a label of the host), IP:port or CIDR:port ([fd00::/8]:2376), port a number, a range (2376-2380) or *; unix:///path globs (unix:///var/run/*.sock). Empty: any endpoint. A refused Environment is Stalled (EndpointNotAllowed) and never connected to")
	f.BoolVar(&flags.settings.Endpoints.AllowInsecure, "allow-insecure-endpoints", false, "allow Environments with insecure: true (plain TCP, no TLS: whoever reaches that port controls the Swarm)")
	f.BoolVar(&flags.namespacedEnvironments, "namespaced-environments", true, "use namespaced Environments; false refuses them (Stalled, NamespacedEnvironmentsDisabled): Stacks then deploy only with ClusterEnvironments")
	f.IntVar(&flags.webhookPort, "webhook-port", 9443, "port of the admission webhook that checks who may promote (Promotions, Freight approvals); 0 serves none: outside a cluster, where no API server calls it")
	f.StringVar(&flags.webhookCertDir, "webhook-cert-dir", defaultWebhookCertDir, "directory of the webhook's serving certificate, tls.crt and tls.key (config/default mounts cert-manager's Secret there)")
	f.StringVar(&flags.leaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader election Lease; default: the namespace the manager runs in (needed outside a cluster)")
	goFlags := flag.NewFlagSet("zap", flag.ContinueOnError)
	flags.zap.BindFlags(goFlags)
	f.AddGoFlagSet(goFlags)
	return cmd
}

// managerFlags are kargo manager's flags; settings go to every controller.
type managerFlags struct {
	metricsAddr, probeAddr, pprofAddr string
	leaderElect                       bool
	// namespacedEnvironments is the opposite of settings.NoNamespacedEnvironments:
	// the zero Settings are the defaults.
	namespacedEnvironments  bool
	leaderElectionNamespace string
	webhookPort             int
	webhookCertDir          string
	settings                controllers.Settings
	zap                     zap.Options
}

func runManager(flags *managerFlags) error {
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&flags.zap)))
	if n := flags.settings.MaxConcurrentReconciles; n < 1 {
		return fmt.Errorf("--max-concurrent-reconciles must be at least 1, not %d", n)
	}
	if p := flags.webhookPort; p < 0 || p > 65535 {
		return fmt.Errorf("--webhook-port must be a port number, or 0 for no webhook, not %d", p)
	}
	flags.settings.NoNamespacedEnvironments = !flags.namespacedEnvironments

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(kargov1.AddToScheme(scheme))

	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), controllers.ManagerOptions(ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsserver.Options{BindAddress: flags.metricsAddr},
		HealthProbeBindAddress:  flags.probeAddr,
		PprofBindAddress:        flags.pprofAddr,
		LeaderElection:          flags.leaderElect,
		LeaderElectionID:        "kargo-manager.swarm.kargo.io",
		LeaderElectionNamespace: flags.leaderElectionNamespace,
		WebhookServer:           webhook.NewServer(webhook.Options{Port: flags.webhookPort, CertDir: flags.webhookCertDir}),
	}))
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}
	if err := controllers.SetupAll(mgr, &controllers.Engines{}, flags.settings); err != nil {
		return fmt.Errorf("set up controllers: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		return err
	}
	if flags.webhookPort != 0 {
		admission.Register(mgr)
		if err := mgr.AddReadyzCheck("webhook", mgr.GetWebhookServer().StartedChecker()); err != nil {
			return err
		}
	} else {
		ctrl.Log.WithName("setup").Info("serving no admission webhook (--webhook-port=0): an API server that calls it refuses Promotions and approvals")
	}
	ctrl.Log.WithName("setup").Info("starting manager", "allowedEndpoints", flags.settings.Endpoints.Allowed.String(),
		"allowInsecureEndpoints", flags.settings.Endpoints.AllowInsecure, "namespacedEnvironments", flags.namespacedEnvironments)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// defaultWebhookCertDir is controller-runtime's default, where
// config/default mounts the webhook's certificate.
const defaultWebhookCertDir = "/tmp/k8s-webhook-server/serving-certs"

// managerNamespace is the manager's namespace as the Deployment tells it
// (POD_NAMESPACE, from the downward API), or the default one.
func managerNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	return controllers.DefaultClusterResourceNamespace
}
