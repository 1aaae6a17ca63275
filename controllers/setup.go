// Package controllers holds one reconciler per kind: Environment, Stack and Service.
package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"
)

// SetupAll registers the three reconcilers on a manager, sharing the
// engine clients and the Swarm event subscriptions.
func SetupAll(mgr ctrl.Manager, engines *Engines) error {
	watchers := NewWatchers(mgr.GetClient(), engines)
	if err := mgr.Add(watchers); err != nil {
		return err
	}
	if err := (&EnvironmentReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorderFor("environment-controller"), Engines: engines, Watchers: watchers}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&StackReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme(), Recorder: mgr.GetEventRecorderFor("stack-controller"), Engines: engines, Watchers: watchers}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&ServiceReconciler{Client: mgr.GetClient(), Scheme: mgr.GetScheme()}).SetupWithManager(mgr)
}
