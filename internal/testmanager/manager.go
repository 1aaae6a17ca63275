// Package testmanager runs Kargo's manager in a test process against an
// envtest API server, for test suites outside controllers/ (internal/testenv
// cannot: packages that controllers imports use testenv in their tests).
package testmanager

import (
	"context"
	"fmt"
	"os"
	"time"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
	"github.com/kargo-io/kargo/internal/admission"
)

// Manager is Kargo's manager running in the test process against an
// envtest API server.
type Manager struct {
	// Client reads and writes the API server directly (no cache): what a
	// test reads is what the API server holds.
	Client client.Client
	// Engines are the manager's Engine API clients, by Environment.
	Engines *controllers.Engines
	// Cache is the manager's cache, for tests of what it holds.
	Cache cache.Cache

	cancel context.CancelFunc
	done   chan struct{}
}

// Start starts every Kargo controller (controllers.SetupAll with settings)
// on env's API server, serving metrics on metricsAddr ("0": none), and logs
// at the level KARGO_TEST_LOGS asks for (errors only when unset). When env
// installed webhooks (testenv.StartAPIServer does), the manager serves
// Kargo's admission webhooks where env told the API server to call them,
// and Start returns once they answer: a test's first Promotion is
// admitted, not refused for want of a webhook.
func Start(env *envtest.Environment, metricsAddr string, settings controllers.Settings) (*Manager, error) {
	engines := &controllers.Engines{}
	return start(env, metricsAddr, engines, func(mgr ctrl.Manager) error {
		if err := controllers.SetupAll(mgr, engines, settings); err != nil {
			return fmt.Errorf("set up controllers: %w", err)
		}
		return nil
	})
}

// StartWebhooks starts a manager that serves Kargo's admission webhooks
// (as Start does) and runs no controller: for tests of a client, such as
// the kargo command, whose Promotions and approvals the API server admits
// through the webhook while nothing reconciles them.
func StartWebhooks(env *envtest.Environment) (*Manager, error) {
	return start(env, "0", nil, func(ctrl.Manager) error { return nil })
}

func start(env *envtest.Environment, metricsAddr string, engines *controllers.Engines, setup func(ctrl.Manager) error) (*Manager, error) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(LogLevel())))
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = kargov1.AddToScheme(scheme)
	hooks := env.WebhookInstallOptions
	serveWebhooks := hooks.LocalServingPort != 0
	mgr, err := ctrl.NewManager(env.Config, controllers.ManagerOptions(ctrl.Options{
		Scheme:        scheme,
		Metrics:       metricsserver.Options{BindAddress: metricsAddr},
		WebhookServer: webhook.NewServer(webhook.Options{Host: hooks.LocalServingHost, Port: hooks.LocalServingPort, CertDir: hooks.LocalServingCertDir}),
	}))
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	m := &Manager{Engines: engines, Cache: mgr.GetCache(), done: make(chan struct{})}
	if err := setup(mgr); err != nil {
		return nil, err
	}
	if serveWebhooks {
		admission.Register(mgr)
	}
	if m.Client, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	var ctx context.Context
	ctx, m.cancel = context.WithCancel(context.Background())
	go func() {
		defer close(m.done)
		if err := mgr.Start(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "manager:", err)
		}
	}()
	if serveWebhooks {
		if err := waitServing(mgr.GetWebhookServer(), m.done); err != nil {
			m.Stop()
			return nil, err
		}
	}
	return m, nil
}

// waitServing waits until the webhook server accepts TLS connections, or
// the manager stopped.
func waitServing(server webhook.Server, stopped <-chan struct{}) error {
	check := server.StartedChecker()
	deadline := time.Now().Add(time.Minute)
	for {
		err := check(nil)
		if err == nil {
			return nil
		}
		select {
		case <-stopped:
			return fmt.Errorf("the manager stopped before its webhook server answered: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the webhook server does not answer: %w", err)
		}
	}
}

// Stop stops the manager and waits until it has.
func (m *Manager) Stop() {
	m.cancel()
	<-m.done
}

// LogLevel is the manager's log level in tests: everything when
// KARGO_TEST_LOGS is set, errors only otherwise (readable test output).
func LogLevel() zapcore.Level {
	if os.Getenv("KARGO_TEST_LOGS") != "" {
		return -1
	}
	return 2
}
