// Package testmanager runs Kargo's manager in a test process against an
// envtest API server, for test suites outside controllers/ (internal/testenv
// cannot: packages that controllers imports use testenv in their tests).
package testmanager

import (
	"context"
	"fmt"
	"os"

	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/controllers"
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
// on cfg, serving metrics on metricsAddr ("0": none), and logs at the level
// KARGO_TEST_LOGS asks for (errors only when unset).
func Start(cfg *rest.Config, metricsAddr string, settings controllers.Settings) (*Manager, error) {
	ctrl.SetLogger(zap.New(zap.UseDevMode(true), zap.Level(LogLevel())))
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = kargov1.AddToScheme(scheme)
	mgr, err := ctrl.NewManager(cfg, controllers.ManagerOptions(ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: metricsAddr}}))
	if err != nil {
		return nil, fmt.Errorf("new manager: %w", err)
	}
	m := &Manager{Engines: &controllers.Engines{}, Cache: mgr.GetCache(), done: make(chan struct{})}
	if err := controllers.SetupAll(mgr, m.Engines, settings); err != nil {
		return nil, fmt.Errorf("set up controllers: %w", err)
	}
	if m.Client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
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
	return m, nil
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
