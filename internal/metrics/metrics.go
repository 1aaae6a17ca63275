// Package metrics defines Kargo's Prometheus metrics, registered on
// controller-runtime's registry so the manager's metrics endpoint serves them
// next to its own.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	engineRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_engine_requests_total",
		Help: "Docker Engine API requests by Environment, operation (method and resource) and HTTP status code (0: no answer).",
	}, []string{"environment", "operation", "code"})

	engineRequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kargo_engine_request_duration_seconds",
		Help:    "Duration of Docker Engine API requests until the response headers, by Environment and operation.",
		Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
	}, []string{"environment", "operation"})

	driftCorrections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_drift_corrections_total",
		Help: "Manual changes of owned Swarm objects that were reverted, by Stack and kind of object.",
	}, []string{"namespace", "stack", "kind"})

	stackReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kargo_stack_ready",
		Help: "1 when the Stack is Ready, 0 otherwise.",
	}, []string{"namespace", "stack"})

	stackConvergence = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kargo_stack_convergence_seconds",
		Help:    "Time from a Stack becoming not Ready (a change, a drift, a failure) to Ready again.",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
	}, []string{"namespace"})

	stackReconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kargo_stack_reconcile_duration_seconds",
		Help:    "Duration of each reconcile of a Stack (its count is the number of reconciles).",
		Buckets: prometheus.ExponentialBuckets(0.01, 4, 8),
	}, []string{"namespace", "stack"})

	eventStreamConnected = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kargo_engine_event_stream_connected",
		Help: "1 while the Docker events subscription of an Environment is open.",
	}, []string{"environment"})

	promotions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_promotions_total",
		Help: "Promotions that ended, by Stage and phase (Succeeded, Failed, Errored).",
	}, []string{"namespace", "stage", "phase"})

	promotionDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kargo_promotion_duration_seconds",
		Help:    "Time from a Promotion's start (its turn came) to its end, soak and verification job included, by Stage.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12),
	}, []string{"namespace", "stage"})

	freightDiscovered = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kargo_freight_discovered_total",
		Help: "Freight created by a Warehouse (each a new combination of its subscriptions' newest revisions).",
	}, []string{"namespace", "warehouse"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(engineRequests, engineRequestDuration, driftCorrections, stackReady, stackConvergence, stackReconcileDuration, eventStreamConnected,
		promotions, promotionDuration, freightDiscovered)
}

// PromotionEnded counts a Promotion that ended and records how long it ran.
func PromotionEnded(namespace, stage, phase string, took time.Duration) {
	promotions.WithLabelValues(namespace, stage, phase).Inc()
	promotionDuration.WithLabelValues(namespace, stage).Observe(took.Seconds())
}

// EngineRequestObserver returns the observer of one Environment's Engine
// API requests (see swarm.WithRequestObserver).
func EngineRequestObserver(environment string) func(operation string, code int, duration time.Duration) {
	return func(operation string, code int, duration time.Duration) {
		engineRequests.WithLabelValues(environment, operation, strconv.Itoa(code)).Inc()
		engineRequestDuration.WithLabelValues(environment, operation).Observe(duration.Seconds())
	}
}

// DriftCorrected counts one reverted manual change.
func DriftCorrected(namespace, stack, kind string) {
	driftCorrections.WithLabelValues(namespace, stack, kind).Inc()
}

// StackReady records whether a Stack is Ready.
func StackReady(namespace, stack string, ready bool) {
	v := 0.0
	if ready {
		v = 1
	}
	stackReady.WithLabelValues(namespace, stack).Set(v)
}

// StackDeleted drops the series of a deleted Stack.
func StackDeleted(namespace, stack string) {
	stackReady.DeleteLabelValues(namespace, stack)
	stackReconcileDuration.DeleteLabelValues(namespace, stack)
}

// StackReconciled records the duration of one reconcile of a Stack.
func StackReconciled(namespace, stack string, took time.Duration) {
	stackReconcileDuration.WithLabelValues(namespace, stack).Observe(took.Seconds())
}

// StackConverged records the time a Stack took to become Ready again.
func StackConverged(namespace string, took time.Duration) {
	stackConvergence.WithLabelValues(namespace).Observe(took.Seconds())
}

// EventStreamConnected records whether an Environment's event subscription is open.
func EventStreamConnected(environment string, connected bool) {
	v := 0.0
	if connected {
		v = 1
	}
	eventStreamConnected.WithLabelValues(environment).Set(v)
}

// FreightDiscovered counts one Freight created by a Warehouse.
func FreightDiscovered(namespace, warehouse string) {
	freightDiscovered.WithLabelValues(namespace, warehouse).Inc()
}

// WarehouseDeleted drops the series of a deleted Warehouse.
func WarehouseDeleted(namespace, warehouse string) {
	freightDiscovered.DeleteLabelValues(namespace, warehouse)
}
