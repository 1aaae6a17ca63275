package controllers

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	kargov1 "github.com/kargo-io/kargo/api/v1alpha1"
	"github.com/kargo-io/kargo/internal/desired"
	"github.com/kargo-io/kargo/internal/metrics"
	"github.com/kargo-io/kargo/internal/swarm"
)

// Watchers keeps one Docker events subscription per Environment and turns
// what it sees into reconcile requests: a change of a stack's service,
// network, config or secret enqueues that Stack; a node change enqueues the
// Environment and its Stacks. This is what undoes a manual docker service rm in seconds;
// the periodic resync (spec.interval) stays as the fallback.
type Watchers struct {
	// Reader lists Stacks (the manager's cache).
	Reader  client.Reader
	Engines *Engines
	// Stacks, Environments and ClusterEnvironments receive the objects to
	// reconcile.
	Stacks              chan event.GenericEvent
	Environments        chan event.GenericEvent
	ClusterEnvironments chan event.GenericEvent

	mu      sync.Mutex
	running map[types.NamespacedName]subscription
	ctx     context.Context
	cancel  context.CancelFunc
}

// subscription is the running watch of one Environment and the client it uses.
type subscription struct {
	cancel context.CancelFunc
	engine *swarm.Client
}

// NewWatchers returns Watchers; add them to the manager (they are a
// Runnable) so that its shutdown ends every subscription.
func NewWatchers(reader client.Reader, engines *Engines) *Watchers {
	ctx, cancel := context.WithCancel(context.Background())
	return &Watchers{
		Reader: reader, Engines: engines, ctx: ctx, cancel: cancel,
		Stacks:       make(chan event.GenericEvent, 256),
		Environments: make(chan event.GenericEvent, 64), ClusterEnvironments: make(chan event.GenericEvent, 16),
		running: map[types.NamespacedName]subscription{},
	}
}

// Start waits for the manager to stop, then ends every subscription.
func (w *Watchers) Start(ctx context.Context) error {
	<-ctx.Done()
	w.cancel()
	return nil
}

// Ensure runs the subscription of an Environment on its current cached
// client: it starts one, or restarts it when the client was rebuilt (new
// endpoint or TLS Secret), since the old stream stays open on the old client.
func (w *Watchers) Ensure(env types.NamespacedName) {
	engine, ok := w.Engines.Get(env)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if sub, ok := w.running[env]; ok {
		if sub.engine == engine {
			return
		}
		sub.cancel()
	}
	ctx, cancel := context.WithCancel(w.ctx)
	w.running[env] = subscription{cancel: cancel, engine: engine}
	go w.run(ctx, env, engine)
}

// Stop ends the subscription of a deleted Environment.
func (w *Watchers) Stop(env types.NamespacedName) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if sub, ok := w.running[env]; ok {
		sub.cancel()
		delete(w.running, env)
		metrics.EventStreamConnected(environmentName(env), false)
	}
}

// run subscribes until ctx ends, reconnecting with capped exponential
// backoff. After each (re)connection every Stack of the Environment is
// enqueued once: events missed while disconnected are not replayed. The
// Environment itself is enqueued when the stream breaks and when it comes
// back: its Ready condition then follows the endpoint (its resync interval
// may be long, and its retries back off up to minutes).
func (w *Watchers) run(ctx context.Context, env types.NamespacedName, engine *swarm.Client) {
	log := ctrl.Log.WithName("events").WithValues("environment", environmentName(env))
	backoff := newEventBackoff()
	for reconnect := false; ctx.Err() == nil; reconnect = true {
		connected := time.Now()
		metrics.EventStreamConnected(environmentName(env), true)
		if reconnect {
			w.enqueueEnvironment(ctx, env)
		}
		w.enqueueStacks(ctx, env, func(kargov1.Stack) bool { return true })
		err := engine.Watch(ctx, func(ev swarm.Event) { w.dispatch(ctx, env, ev) })
		if ctx.Err() != nil {
			return // stopped, or replaced by a subscription on a new client
		}
		metrics.EventStreamConnected(environmentName(env), false)
		w.enqueueEnvironment(ctx, env)
		if time.Since(connected) > time.Minute {
			backoff = newEventBackoff()
		}
		log.Info("event stream broke, reconnecting", "error", err.Error(), "after", backoff.Duration)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff.Step()):
		}
	}
}

// nodeSettle is how long after a node event the Stacks look again.
const nodeSettle = 3 * time.Second

func newEventBackoff() wait.Backoff {
	return wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 1 << 30, Cap: time.Minute}
}

// dispatch maps one event to what must be reconciled. Cluster events name
// objects but carry no labels; the stack namespace that prefixes the name
// (<namespace>_...) finds the Stack, whose reconcile then checks ownership.
func (w *Watchers) dispatch(ctx context.Context, env types.NamespacedName, ev swarm.Event) {
	ctrl.Log.WithName("events").V(1).Info("swarm event", "environment", environmentName(env), "kind", ev.Kind, "action", ev.Action, "name", ev.Name)
	if ev.Kind == "node" {
		w.enqueueEnvironment(ctx, env)
		// A node that goes down or is drained makes Swarm move its tasks,
		// which have no events of their own: every Stack of the Environment
		// looks at its services now, and again once the orchestrator has
		// had time to act, so that a Ready Stack does not keep saying so
		// until its next resync. A Stack not Ready then polls as usual.
		all := func(kargov1.Stack) bool { return true }
		w.enqueueStacks(ctx, env, all)
		time.AfterFunc(nodeSettle, func() {
			if ctx.Err() == nil {
				w.enqueueStacks(ctx, env, all)
			}
		})
		return
	}
	w.enqueueStacks(ctx, env, func(st kargov1.Stack) bool {
		if strings.HasPrefix(ev.Name, desired.Namespace(&st)+"_") {
			return true
		}
		// Shared networks have a name of their own (spec.networks[].swarmName).
		return ev.Kind == "network" && slices.ContainsFunc(st.Spec.Networks, func(n kargov1.Network) bool { return n.SwarmName == ev.Name })
	})
}

// enqueueEnvironment reconciles the Environment or ClusterEnvironment.
func (w *Watchers) enqueueEnvironment(ctx context.Context, env types.NamespacedName) {
	events := w.Environments
	if env.Namespace == "" {
		events = w.ClusterEnvironments
	}
	w.send(ctx, events, newEnvironmentObject(env))
}

func (w *Watchers) enqueueStacks(ctx context.Context, env types.NamespacedName, match func(kargov1.Stack) bool) {
	stacks, err := stacksOf(ctx, w.Reader, env)
	if err != nil {
		ctrl.Log.WithName("events").Error(err, "list stacks", "environment", environmentName(env))
		return
	}
	for i := range stacks {
		if match(stacks[i]) {
			w.send(ctx, w.Stacks, &stacks[i])
		}
	}
}

func (w *Watchers) send(ctx context.Context, ch chan event.GenericEvent, obj client.Object) {
	select {
	case ch <- event.GenericEvent{Object: obj}:
	case <-ctx.Done():
	}
}
