package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	// name of the referent.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// Kinds of Environment a Stack may name.
const (
	EnvironmentKind        = "Environment"
	ClusterEnvironmentKind = "ClusterEnvironment"
)

// EnvironmentReference names the Environment or ClusterEnvironment of a Stack.
type EnvironmentReference struct {
	// kind: Environment (of the Stack's namespace) or ClusterEnvironment
	// (offered by the platform admins to the namespaces it allows).
	// +kubebuilder:validation:Enum=Environment;ClusterEnvironment
	// +kubebuilder:default=Environment
	// +optional
	Kind string `json:"kind,omitempty"`
	// name of the Environment or ClusterEnvironment.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// IsCluster tells whether the reference names a ClusterEnvironment.
func (r EnvironmentReference) IsCluster() bool { return r.Kind == ClusterEnvironmentKind }

// String is how messages name the referent: "environment <name>" or
// "clusterenvironment <name>" (an unset kind is the default, Environment).
func (r EnvironmentReference) String() string {
	if r.IsCluster() {
		return "clusterenvironment " + r.Name
	}
	return "environment " + r.Name
}

// KeySelector selects one key of a ConfigMap or Secret in the same namespace.
type KeySelector struct {
	// name of the ConfigMap or Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
	// key in its data.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Key string `json:"key"`
}

// Placement says on which nodes tasks may run.
type Placement struct {
	// constraints are Swarm placement constraints, e.g. "node.role==manager"
	// or "node.labels.mongodb==true". All must hold; a patch adds to them.
	// +listType=set
	// +optional
	Constraints []string `json:"constraints,omitempty"`
	// preferences spread tasks over the values of a node attribute.
	// +listType=atomic
	// +optional
	Preferences []PlacementPreference `json:"preferences,omitempty"`
	// maxReplicasPerNode caps the tasks of this service on one node; unset or 0 means no cap.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxReplicasPerNode *int64 `json:"maxReplicasPerNode,omitempty"`
}

// PlacementPreference spreads tasks evenly over the values of a node attribute.
type PlacementPreference struct {
	// spread is the attribute, e.g. "node.labels.zone".
	// +kubebuilder:validation:MinLength=1
	// +required
	Spread string `json:"spread"`
}

// Resources bounds and reserves CPU and memory for each task.
type Resources struct {
	// limits are hard caps per task.
	// +optional
	Limits *ResourceAmounts `json:"limits,omitempty"`
	// reservations are what the scheduler sets aside per task.
	// +optional
	Reservations *ResourceAmounts `json:"reservations,omitempty"`
}

// ResourceAmounts is an amount of CPU and memory.
type ResourceAmounts struct {
	// cpus in fractions of a CPU, as in compose: "0.5", "2".
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?|\.[0-9]+)$`
	// +optional
	CPUs string `json:"cpus,omitempty"`
	// memory as a Kubernetes quantity: "64Mi", "1Gi", "512M".
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// Logging selects the log driver of the tasks.
type Logging struct {
	// driver is the Docker log driver, e.g. json-file, local, gelf.
	// +kubebuilder:validation:MinLength=1
	// +required
	Driver string `json:"driver"`
	// options of the driver, e.g. max-size: 10m.
	// +optional
	Options map[string]string `json:"options,omitempty"`
}

// UpdateConfig says how Swarm replaces tasks on update (or rollback).
type UpdateConfig struct {
	// parallelism is how many tasks are replaced at once; 0 means all at once. Default 1.
	// +kubebuilder:validation:Minimum=0
	// +optional
	Parallelism *int64 `json:"parallelism,omitempty"`
	// delay between batches, e.g. "10s". Default 0.
	// +optional
	Delay *metav1.Duration `json:"delay,omitempty"`
	// failureAction when a task fails to update: pause (default), continue, or rollback.
	// Rollback configs accept pause and continue only.
	// +kubebuilder:validation:Enum=pause;continue;rollback
	// +optional
	FailureAction string `json:"failureAction,omitempty"`
	// monitor is how long each task is watched for failure after it starts. Default 5s.
	// +optional
	Monitor *metav1.Duration `json:"monitor,omitempty"`
	// maxFailureRatio is the fraction of tasks that may fail, "0" to "1". Default "0".
	// +kubebuilder:validation:Pattern=`^(0(\.[0-9]+)?|1(\.0+)?)$`
	// +optional
	MaxFailureRatio string `json:"maxFailureRatio,omitempty"`
	// order: stop-first (default) stops the old task before starting the new one;
	// start-first starts the new one first.
	// +kubebuilder:validation:Enum=stop-first;start-first
	// +optional
	Order string `json:"order,omitempty"`
}

// RestartPolicy says when Swarm restarts a task that exited.
type RestartPolicy struct {
	// condition: none, on-failure, or any (default).
	// +kubebuilder:validation:Enum=none;on-failure;any
	// +optional
	Condition string `json:"condition,omitempty"`
	// delay between restarts. Default 5s.
	// +optional
	Delay *metav1.Duration `json:"delay,omitempty"`
	// maxAttempts before giving up; unset means no limit.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxAttempts *int64 `json:"maxAttempts,omitempty"`
	// window in which restarts are counted for maxAttempts.
	// +optional
	Window *metav1.Duration `json:"window,omitempty"`
}

// ServiceDefaults are deployment settings applied to every Service of an
// Environment, as the lowest layer: a Service's own value always wins.
type ServiceDefaults struct {
	// placement for services that set none; constraints are appended to the service's own.
	// +optional
	Placement *Placement `json:"placement,omitempty"`
	// resources for services that set none.
	// +optional
	Resources *Resources `json:"resources,omitempty"`
	// logging for services that set none.
	// +optional
	Logging *Logging `json:"logging,omitempty"`
	// labels added to every service (a service's own label of the same key wins).
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// containerLabels added to every task container.
	// +optional
	ContainerLabels map[string]string `json:"containerLabels,omitempty"`
	// updateConfig for services that set none.
	// +optional
	UpdateConfig *UpdateConfig `json:"updateConfig,omitempty"`
	// restartPolicy for services that set none.
	// +optional
	RestartPolicy *RestartPolicy `json:"restartPolicy,omitempty"`
}
