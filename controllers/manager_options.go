package controllers

import (
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ManagerOptions completes the options of a manager running Kargo's
// controllers with what its cache may hold. Secrets and ConfigMaps are
// read from the API server when a reconcile needs their values, never
// cached: the controllers watch their metadata only, so Secrets that have
// nothing to do with Kargo cost the manager their names, not their data.
// And the cache holds only the kinds a controller watches: a read of
// another kind through it fails (cache.ErrResourceNotCached) rather than
// start a cluster-wide cache of that kind unseen.
func ManagerOptions(o ctrl.Options) ctrl.Options {
	o.Client.Cache = &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}}}
	o.Cache.ReaderFailOnMissingInformer = true
	return o
}
