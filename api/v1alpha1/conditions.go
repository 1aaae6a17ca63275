package v1alpha1

// Condition types, following kstatus: Ready is always present; Reconciling
// and Stalled only while they are True.
const (
	// ReadyCondition tells whether the object has converged on the Swarm.
	ReadyCondition = "Ready"
	// ReconcilingCondition is True while the controller makes progress.
	ReconcilingCondition = "Reconciling"
	// StalledCondition is True when retrying cannot help without a change of
	// the object or of what it references.
	StalledCondition = "Stalled"
	// NodeLabelsCondition, on an Environment with spec.nodeLabels, tells
	// whether every label it wants is on its node (False, reason
	// NodeLabelConflict, when another Environment holds one).
	NodeLabelsCondition = "NodeLabels"
)

// Condition reasons, CamelCase as required by metav1.Condition.
const (
	// ReconciledReason: the last reconcile succeeded and everything converged.
	ReconciledReason = "Reconciled"
	// ProgressingReason: work is underway (message says which phase).
	ProgressingReason = "Progressing"
	// UnreachableReason: the Docker endpoint did not answer.
	UnreachableReason = "Unreachable"
	// NotSwarmManagerReason: the endpoint answers but is not a Swarm manager,
	// or not a Docker Engine at all.
	NotSwarmManagerReason = "NotSwarmManager"
	// TLSErrorReason: the TLS Secret is missing, malformed, or the handshake failed.
	TLSErrorReason = "TLSError"
	// EndpointNotAllowedReason: the manager may not connect to the endpoint
	// (kargo manager --allowed-endpoints, --allow-insecure-endpoints); it
	// made no connection. Stalled until the endpoint or the flags change.
	EndpointNotAllowedReason = "EndpointNotAllowed"
	// NamespacedEnvironmentsDisabledReason: the manager runs with
	// --namespaced-environments=false and uses no (namespaced) Environment:
	// Stacks use ClusterEnvironments. Stalled, no connection made.
	NamespacedEnvironmentsDisabledReason = "NamespacedEnvironmentsDisabled"
	// EnvironmentNotReadyReason: the referenced Environment is missing or not Ready.
	EnvironmentNotReadyReason = "EnvironmentNotReady"
	// ConflictReason: a Swarm object with the desired name exists and Kargo does not own it.
	ConflictReason = "Conflict"
	// InvalidSpecReason: the spec refers to things that do not exist or cannot work together.
	InvalidSpecReason = "InvalidSpec"
	// SourceNotFoundReason: a referenced ConfigMap or Secret (or key) is missing.
	SourceNotFoundReason = "SourceNotFound"
	// RenderFailedReason: the merged configuration could not be rendered.
	RenderFailedReason = "RenderFailed"
	// PolicyDeniedReason: a Service breaks its Environment's spec.policy
	// (a host path, volume driver, external network, port, image, global
	// mode or root that it does not allow); nothing was changed on the Swarm.
	PolicyDeniedReason = "PolicyDenied"
	// ApplyFailedReason: the Swarm refused a create or update.
	ApplyFailedReason = "ApplyFailed"
	// ServicesNotReadyReason: some services have not converged yet.
	ServicesNotReadyReason = "ServicesNotReady"
	// RolledBackReason: a service update failed and Swarm rolled it back.
	RolledBackReason = "RolledBack"
	// DependencyNotReadyReason: a dependsOn target is not Ready yet.
	DependencyNotReadyReason = "DependencyNotReady"
	// DependencyCycleReason: dependsOn entries form a cycle (message shows it).
	DependencyCycleReason = "DependencyCycle"
	// StackNotFoundReason: a Service's stackRef names no Stack.
	StackNotFoundReason = "StackNotFound"
	// SuspendedReason: reconciliation is suspended by spec.suspend (Ready
	// is Unknown: the Swarm is left as it is, and not looked at).
	SuspendedReason = "Suspended"
	// NotAllowedReason: the Stack's namespace may not use the
	// ClusterEnvironment it names (spec.allowedNamespaces).
	NotAllowedReason = "NotAllowed"
	// NodeLabelConflictReason: a node label an Environment wants is held by
	// another Environment with another value; the first keeps it.
	NodeLabelConflictReason = "NodeLabelConflict"
	// NodeUnavailableReason (a Warning event of an Environment): a node of
	// its Swarm is down or not active (drained, paused); Swarm moves its
	// tasks. NodeAvailableReason (a Normal event): it takes tasks again.
	NodeUnavailableReason = "NodeUnavailable"
	NodeAvailableReason   = "NodeAvailable"
	// DeletingReason: the object is being removed from the Swarm.
	DeletingReason = "Deleting"
	// OrphanedReason (a Warning event of a Stack): its finalizer let go
	// with objects left on the Swarm (deletion policy orphan, or deletion
	// timed out); the message names them.
	OrphanedReason = "Orphaned"
	// OrphansRemovedReason (an event of an Environment): it removed what a
	// Stack whose deletion timed out had left on the Swarm.
	OrphansRemovedReason = "OrphansRemoved"
	// UnusedVariablesReason (a Warning event of an Environment): it sets
	// variables that no catalog entry or patch of its Stacks reads.
	UnusedVariablesReason = "UnusedVariables"
	// DiscoveryFailedReason: a Warehouse could not read a registry (or its
	// credentials).
	DiscoveryFailedReason = "DiscoveryFailed"
	// NoImagesReason: a Warehouse subscription found no tag to pick.
	NoImagesReason = "NoImages"
	// FreightCreatedReason (an event of a Warehouse): a new Freight.
	FreightCreatedReason = "FreightCreated"
	// PromotionFailedReason: the last Promotion of a Stage failed.
	PromotionFailedReason = "PromotionFailed"
	// PromotingReason: a Promotion of the Stage is running.
	PromotingReason = "Promoting"
	// NoFreightReason: no Freight was promoted to the Stage yet.
	NoFreightReason = "NoFreight"
	// TargetsNotReadyReason: a target Stack of a Stage is not Ready.
	TargetsNotReadyReason = "TargetsNotReady"
	// NotEligibleReason: a Promotion's Freight may not go to its Stage (not
	// requested, not verified upstream, not approved).
	NotEligibleReason = "NotEligible"
	// RolledBackPromotionReason (an event of a Stage): the previous
	// Freight is promoted back after a failed verification.
	RolledBackPromotionReason = "RollingBack"
)

// ServiceStackRefField is the field selector on a Service's stackRef
// (`kubectl get ssvc --field-selector spec.stackRef.name=geo`).
const ServiceStackRefField = "spec.stackRef.name"

// Finalizer keeps a Stack (or Environment) until its Swarm objects are gone.
const Finalizer = "swarm.kargo.io/finalizer"

// Labels and annotations Kargo puts on Kubernetes and Swarm objects.
const (
	// StackLabel names, on a Service, the Stack it belongs to.
	StackLabel = "swarm.kargo.io/stack"
	// OwnerLabel marks a Swarm object as Kargo's: "<k8s-namespace>/<stack>".
	OwnerLabel = "swarm.kargo.io/owner"
	// SpecHashLabel holds the hash of the desired spec of a Swarm object.
	SpecHashLabel = "swarm.kargo.io/spec-hash"
	// StackNamespaceLabel is the label docker stack deploy sets; docker stack ps/services read it.
	StackNamespaceLabel = "com.docker.stack.namespace"
	// ReconcileRequestAnnotation asks for an immediate reconcile of a Stack;
	// its value is copied to status.lastHandledReconcileAt when handled.
	ReconcileRequestAnnotation = "swarm.kargo.io/reconcile-requested-at"
	// DeletionPolicyAnnotation on a Stack says what its deletion does to its
	// Swarm objects: unset, they are removed (and a deletion that times
	// out leaves the rest to its Environment); DeletionPolicyOrphan leaves
	// them all in place at once.
	DeletionPolicyAnnotation = "swarm.kargo.io/deletion-policy"
	// DeletionPolicyOrphan is the value of DeletionPolicyAnnotation that
	// leaves a deleted Stack's Swarm objects in place.
	DeletionPolicyOrphan = "orphan"
	// LogicalNameLabel holds, on a Swarm config, secret or network, the name used in manifests.
	LogicalNameLabel = "swarm.kargo.io/name"
	// ManagerLabel holds, on a Swarm object, the identity of the Kargo
	// installation that manages it (--manager-id: by default the UID of
	// the management cluster's kube-system namespace), so that two
	// management clusters sharing a Swarm never take or prune each other's
	// objects. Objects without it (made before it existed) belong to any.
	ManagerLabel = "swarm.kargo.io/manager"
	// PromotionLabel marks the Swarm service of a Promotion's verification
	// job: "<k8s-namespace>/<promotion>".
	PromotionLabel = "swarm.kargo.io/promotion"
	// PromotionCauseLabel says why a Promotion was made: PromotionCauseManual
	// (a person, kargo promote), PromotionCauseAuto (spec.autoPromotion) or
	// PromotionCauseRollback (after a failed verification).
	PromotionCauseLabel = "swarm.kargo.io/promotion-cause"
	// StageLabel names, on a Promotion, its Stage (to list them by Stage).
	StageLabel = "swarm.kargo.io/stage"
	// AliasLabel holds, on a Freight, its alias (to find it by alias).
	AliasLabel = "swarm.kargo.io/alias"
)

// Values of PromotionCauseLabel.
const (
	PromotionCauseManual   = "Manual"
	PromotionCauseAuto     = "Auto"
	PromotionCauseRollback = "Rollback"
)

// PromoteVerb is the custom RBAC verb, on stages, that creating a
// Promotion or approving Freight for a Stage takes (as in Akuity's Kargo):
// e.g. a Role rule {apiGroups: [swarm.kargo.io], resources: [stages],
// verbs: [promote]}.
const PromoteVerb = "promote"
