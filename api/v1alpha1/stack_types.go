package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StackSpec describes services deployed and removed together, as one
// `docker stack`.
// +kubebuilder:validation:XValidation:rule="has(self.namespace) == has(oldSelf.namespace)",message="spec.namespace cannot be set or unset after creation (unset means metadata.name): the Stack's Swarm objects are named after it; create a new Stack instead",fieldPath=".namespace"
type StackSpec struct {
	// environmentRef names the Environment of the Stack's namespace, or the
	// ClusterEnvironment, whose Swarm the Stack is deployed on. Immutable:
	// the Stack's objects live on that Swarm.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="environmentRef is immutable: the Stack's objects live on that Swarm; delete the Stack (its objects are removed from the old Swarm) and create it again"
	// +required
	EnvironmentRef EnvironmentReference `json:"environmentRef"`

	// namespace is the Swarm stack namespace. Swarm objects are named
	// <namespace>_<name>, as docker stack deploy names them, so docker stack
	// ps and docker stack services work. Default: metadata.name.
	// Immutable, and cannot be set or unset after creation: changing it
	// would orphan every object on the Swarm.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9_.-]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=40
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="namespace is immutable: create a new Stack instead"
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// services picked from the default configuration (the catalog). When
	// empty, the Stack deploys the Service objects whose stackRef names it.
	// +listType=map
	// +listMapKey=name
	// +optional
	Services []CatalogService `json:"services,omitempty"`

	// patches are kustomize patches (strategic merge or JSON 6902) applied
	// over the catalog entries: the user configuration.
	// +listType=atomic
	// +optional
	Patches []Patch `json:"patches,omitempty"`

	// images override image names, tags or digests of the catalog entries,
	// like kustomize's images transformer.
	// +listType=map
	// +listMapKey=name
	// +optional
	Images []Image `json:"images,omitempty"`

	// replicas override the replicas of catalog entries by service name.
	// +listType=map
	// +listMapKey=name
	// +optional
	Replicas []Replicas `json:"replicas,omitempty"`

	// networks of this Stack; Services attach to them by name.
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=64
	// +optional
	Networks []Network `json:"networks,omitempty"`

	// configs are Swarm configs made from ConfigMap keys; Services mount them by name.
	// +listType=map
	// +listMapKey=name
	// +optional
	Configs []StackConfig `json:"configs,omitempty"`

	// secrets are Swarm secrets made from Secret keys; Services mount them by name.
	// +listType=map
	// +listMapKey=name
	// +optional
	Secrets []StackSecret `json:"secrets,omitempty"`

	// dependsOn lists Stacks (same namespace) that must be Ready before this
	// one is deployed.
	// +listType=map
	// +listMapKey=name
	// +optional
	DependsOn []LocalObjectReference `json:"dependsOn,omitempty"`

	// prune removes Swarm objects this Stack owns that are no longer
	// declared. Volumes are never removed. Default true.
	// +kubebuilder:default=true
	// +optional
	Prune *bool `json:"prune,omitempty"`

	// suspend stops reconciliation of this Stack; what runs is left as it is.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// timeout bounds health-gated waits: a service not converged after this
	// long makes the Stack Stalled, and deletion waits at most this long for
	// tasks to stop. Default 5m.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern="^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$"
	// +optional
	Timeout *metav1.Duration `json:"timeout,omitempty"`
}

// CatalogService picks one entry of the default configuration.
type CatalogService struct {
	// name of the Service in this Stack (the Swarm service is <namespace>_<name>).
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// catalog is the entry's name in the catalog (kargo catalog lists them).
	// Default: name.
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`
	// +optional
	Catalog string `json:"catalog,omitempty"`
}

// Patch is a kustomize patch with an optional target selector.
type Patch struct {
	// patch is a strategic merge patch (YAML object) or a JSON 6902 patch (YAML list).
	// +kubebuilder:validation:MinLength=1
	// +required
	Patch string `json:"patch"`
	// target selects the Services the patch applies to. Required for JSON
	// 6902 patches; a strategic merge patch names its target itself.
	// +optional
	Target *PatchTarget `json:"target,omitempty"`
}

// PatchTarget selects resources as kustomize does.
type PatchTarget struct {
	// group of the target; swarm.kargo.io for Services.
	// +optional
	Group string `json:"group,omitempty"`
	// version of the target.
	// +optional
	Version string `json:"version,omitempty"`
	// kind of the target, e.g. Service.
	// +optional
	Kind string `json:"kind,omitempty"`
	// name of the target, a regular expression as in kustomize.
	// +optional
	Name string `json:"name,omitempty"`
	// labelSelector of the targets.
	// +optional
	LabelSelector string `json:"labelSelector,omitempty"`
	// annotationSelector of the targets.
	// +optional
	AnnotationSelector string `json:"annotationSelector,omitempty"`
}

// Image overrides an image of the catalog entries.
// +kubebuilder:validation:XValidation:rule="has(self.newName) || has(self.newTag) || has(self.digest)",message="set at least one of newName, newTag or digest"
type Image struct {
	// name of the image to override, without tag (e.g. mongo).
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`
	// newName replaces the image name.
	// +optional
	NewName string `json:"newName,omitempty"`
	// newTag replaces the tag.
	// +optional
	NewTag string `json:"newTag,omitempty"`
	// digest replaces the tag with a digest (sha256:...).
	// +kubebuilder:validation:Pattern=`^sha256:[a-f0-9]{64}$`
	// +optional
	Digest string `json:"digest,omitempty"`
}

// Replicas overrides the replicas of one catalog service.
type Replicas struct {
	// name of the Service.
	// +kubebuilder:validation:MinLength=1
	// +required
	Name string `json:"name"`
	// count of replicas.
	// +kubebuilder:validation:Minimum=0
	// +required
	Count int64 `json:"count"`
}

// Network is an overlay network of the Stack.
// +kubebuilder:validation:XValidation:rule="!(has(self.external) && self.external) || !(has(self.driverOpts) || has(self.internal) || has(self.encrypted) || has(self.labels))",message="an external network is used as it is: driverOpts, internal, encrypted and labels cannot be set"
type Network struct {
	// name used by Services of the Stack. The Swarm network is
	// <namespace>_<name>, or name itself when external.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// swarmName is the network's name on the Swarm, when it is not
	// <namespace>_<name> (or name, for an external network). It shares a
	// network between Stacks under a fixed name, like the old tool's
	// kargo-front and kargo-back: one Stack creates it, the others declare it
	// external.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`
	// +kubebuilder:validation:MaxLength=63
	// +optional
	SwarmName string `json:"swarmName,omitempty"`
	// external networks must already exist; Kargo never creates or removes them.
	// +optional
	External bool `json:"external,omitempty"`
	// driver of the network. Default overlay.
	// +kubebuilder:default=overlay
	// +optional
	Driver string `json:"driver,omitempty"`
	// attachable lets standalone containers join the network.
	// +optional
	Attachable bool `json:"attachable,omitempty"`
	// internal networks have no route outside.
	// +optional
	Internal bool `json:"internal,omitempty"`
	// encrypted turns on IPsec encryption of overlay traffic.
	// +optional
	Encrypted bool `json:"encrypted,omitempty"`
	// driverOpts are options of the driver.
	// +optional
	DriverOpts map[string]string `json:"driverOpts,omitempty"`
	// labels added to the network. Kargo's own (swarm.kargo.io/*) and
	// com.docker.stack.namespace cannot be set: they tell who owns it.
	// +kubebuilder:validation:MaxProperties=64
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('swarm.kargo.io/') && k != 'com.docker.stack.namespace')",message="labels cannot set swarm.kargo.io/* or com.docker.stack.namespace: Kargo sets them to record who owns the network"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// StackConfig is a Swarm config made from a ConfigMap key.
type StackConfig struct {
	// name used by Services to mount it.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// configMapKeyRef is the ConfigMap key holding the content.
	// +required
	ConfigMapKeyRef KeySelector `json:"configMapKeyRef"`
}

// StackSecret is a Swarm secret made from a Secret key.
type StackSecret struct {
	// name used by Services to mount it.
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`
	// secretKeyRef is the Secret key holding the content.
	// +required
	SecretKeyRef KeySelector `json:"secretKeyRef"`
}

// StackStatus is what the operator observed of the Stack on the Swarm.
type StackStatus struct {
	// observedGeneration is the generation last reconciled successfully.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// conditions: Ready, Reconciling, Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// lastHandledReconcileAt is the value of the
	// swarm.kargo.io/reconcile-requested-at annotation last handled.
	// +optional
	LastHandledReconcileAt string `json:"lastHandledReconcileAt,omitempty"`
	// namespace is the Swarm stack namespace in use.
	// +optional
	Namespace string `json:"namespace,omitempty"`
	// readyServices is "<ready>/<total>", for kubectl get.
	// +optional
	ReadyServices string `json:"readyServices,omitempty"`
	// services is the observed state of each service of the Stack, by name.
	// +listType=atomic
	// +optional
	Services []ServiceState `json:"services,omitempty"`
	// inventory lists every Swarm object the Stack owns.
	// +listType=atomic
	// +optional
	Inventory []InventoryEntry `json:"inventory,omitempty"`
}

// InventoryEntry is one Swarm object owned by a Stack.
type InventoryEntry struct {
	// kind: service, network, config or secret.
	Kind string `json:"kind"`
	// name on the Swarm.
	Name string `json:"name"`
	// id on the Swarm; empty for an object applied by the last reconcile and
	// removed outside Kargo since (its correction is underway).
	// +optional
	ID string `json:"id,omitempty"`
	// version of the Swarm object (its index), for services and networks.
	// +optional
	Version uint64 `json:"version,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=stk,categories=kargo
// +kubebuilder:printcolumn:name="Environment",type=string,JSONPath=`.spec.environmentRef.name`
// +kubebuilder:printcolumn:name="Kind",type=string,JSONPath=`.spec.environmentRef.kind`,priority=1
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`,priority=1
// +kubebuilder:printcolumn:name="Services",type=string,JSONPath=`.status.readyServices`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Stack is a set of services, networks, configs and secrets deployed and
// removed together on one Environment's Swarm.
type Stack struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   StackSpec   `json:"spec"`
	Status StackStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// StackList contains a list of Stack.
type StackList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Stack `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Stack{}, &StackList{})
}
