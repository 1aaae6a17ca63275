package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/endpoints"
	"github.com/kargo-io/kargo/internal/metrics"
	"github.com/kargo-io/kargo/internal/swarm"
)

// Engines caches one Engine API client per Environment or
// ClusterEnvironment (by environmentKey), rebuilt when the endpoint or its
// TLS Secret changes. Environment and Stack reconcilers share it.
type Engines struct {
	mu      sync.Mutex
	clients map[types.NamespacedName]cachedEngine
	// connections sizes each client's pool (see configure).
	connections int
	// ClusterResourceNamespace is where ClusterEnvironments' TLS Secrets
	// are read (Settings.ClusterResourceNamespace); SetupAll sets it.
	ClusterResourceNamespace string
	// endpoints and noNamespaced say which Environments may have a client
	// (Settings.Endpoints, Settings.NoNamespacedEnvironments; see admit).
	endpoints    endpoints.Policy
	noNamespaced bool
	// requestTimeout bounds each request (swarm.WithRequestTimeout; zero
	// keeps its default).
	requestTimeout time.Duration
}

// configure sizes the connection pool of the clients built from now on for
// connections Engine API requests at once, and keeps the manager's settings.
func (e *Engines) configure(settings Settings, connections int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ClusterResourceNamespace, e.connections, e.requestTimeout = settings.ClusterResourceNamespace, connections, settings.EngineRequestTimeout
	e.endpoints, e.noNamespaced = settings.Endpoints, settings.NoNamespacedEnvironments
}

type cachedEngine struct {
	fingerprint string
	client      *swarm.Client
}

// For returns the client of env, building it when missing or stale. An
// Environment the manager's settings refuse gets none
// (*refusedEnvironmentError), and the client built before it was refused
// is closed.
func (e *Engines) For(ctx context.Context, c client.Reader, env kargov1.EnvironmentObject) (*swarm.Client, error) {
	if err := e.admit(env); err != nil {
		e.Forget(client.ObjectKeyFromObject(env))
		return nil, err
	}
	spec := env.EnvironmentSpec()
	ep := swarm.Endpoint{Host: spec.Endpoint.Host}
	if ref := spec.Endpoint.TLSSecretRef; ref != nil {
		e.mu.Lock()
		namespace := sourceNamespace(env, e.ClusterResourceNamespace)
		e.mu.Unlock()
		var secret corev1.Secret
		if err := c.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &secret); err != nil {
			// When a namespace is deleted its Secrets go at once, while the
			// Environment and its Stacks wait on their finalizers: they
			// still need the client to remove their Swarm objects.
			if cached, ok := e.Get(client.ObjectKeyFromObject(env)); ok && apierrors.IsNotFound(err) && !env.GetDeletionTimestamp().IsZero() {
				return cached, nil
			}
			return nil, &swarm.EndpointError{Reason: kargov1.TLSErrorReason, Err: fmt.Errorf("TLS Secret %s: %w", ref.Name, err)}
		}
		ep.TLS = &swarm.TLSMaterial{CA: secret.Data["ca.crt"], Cert: secret.Data["tls.crt"], Key: secret.Data["tls.key"]}
	}
	fingerprint := swarm.Hash(ep)
	key := client.ObjectKeyFromObject(env)

	e.mu.Lock()
	defer e.mu.Unlock()
	if cached, ok := e.clients[key]; ok {
		if cached.fingerprint == fingerprint {
			return cached.client, nil
		}
		_ = cached.client.Close()
		delete(e.clients, key)
	}
	cli, err := swarm.Connect(ep, swarm.WithRequestObserver(metrics.EngineRequestObserver(environmentName(key))), swarm.WithConnections(e.connections), swarm.WithRequestTimeout(e.requestTimeout))
	if err != nil {
		return nil, &swarm.EndpointError{Reason: kargov1.TLSErrorReason, Err: err}
	}
	if e.clients == nil {
		e.clients = map[types.NamespacedName]cachedEngine{}
	}
	e.clients[key] = cachedEngine{fingerprint: fingerprint, client: cli}
	return cli, nil
}

// Get returns the cached client of an Environment, if any.
func (e *Engines) Get(key types.NamespacedName) (*swarm.Client, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	cached, ok := e.clients[key]
	return cached.client, ok
}

// Forget closes and drops the client of a deleted Environment.
func (e *Engines) Forget(key types.NamespacedName) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if cached, ok := e.clients[key]; ok {
		_ = cached.client.Close()
		delete(e.clients, key)
	}
}
