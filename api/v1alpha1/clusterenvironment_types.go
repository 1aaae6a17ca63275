package v1alpha1

import (
	"fmt"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8slabels "k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// ClusterEnvironmentSpec is an Environment the platform admins offer to
// some namespaces: tenants deploy on its Swarm without seeing its endpoint
// credentials, and cannot change its policy.
type ClusterEnvironmentSpec struct {
	// EnvironmentSpec is the target Swarm, variables, defaults and policy,
	// as for an Environment. Its TLS Secret and the ConfigMaps and Secrets of
	// variablesFrom are read from the manager's namespace
	// (--cluster-resource-namespace).
	EnvironmentSpec `json:",inline"`

	// allowedNamespaces are the namespaces whose Stacks may use this
	// ClusterEnvironment: those named, and those matching the selector. None
	// when empty.
	// +optional
	AllowedNamespaces AllowedNamespaces `json:"allowedNamespaces,omitempty"`
}

// AllowedNamespaces selects namespaces by name and by label.
type AllowedNamespaces struct {
	// names of allowed namespaces.
	// +listType=set
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +optional
	Names []string `json:"names,omitempty"`
	// selector allows the namespaces whose labels match it (an empty
	// selector matches every namespace).
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cenv;cenvs,categories=kargo
// +kubebuilder:printcolumn:name="Endpoint",type=string,JSONPath=`.spec.endpoint.host`
// +kubebuilder:printcolumn:name="Nodes",type=integer,JSONPath=`.status.swarm.nodes`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ClusterEnvironment is a target Swarm owned by the platform admins and
// offered to the namespaces it allows.
type ClusterEnvironment struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec   ClusterEnvironmentSpec `json:"spec"`
	Status EnvironmentStatus      `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterEnvironmentList contains a list of ClusterEnvironment.
type ClusterEnvironmentList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterEnvironment `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterEnvironment{}, &ClusterEnvironmentList{})
}

// EnvironmentObject is an Environment or a ClusterEnvironment: what a Stack
// is deployed with.
// +kubebuilder:object:generate=false
type EnvironmentObject interface {
	metav1.Object
	runtime.Object
	// EnvironmentSpec returns the spec shared by both kinds.
	EnvironmentSpec() *EnvironmentSpec
	// EnvironmentStatus returns the status, for the reconciler to fill.
	EnvironmentStatus() *EnvironmentStatus
	// EnvironmentReference returns how a Stack names this object.
	EnvironmentReference() EnvironmentReference
}

// EnvironmentSpec implements EnvironmentObject.
func (e *Environment) EnvironmentSpec() *EnvironmentSpec { return &e.Spec }

// EnvironmentStatus implements EnvironmentObject.
func (e *Environment) EnvironmentStatus() *EnvironmentStatus { return &e.Status }

// EnvironmentReference implements EnvironmentObject.
func (e *Environment) EnvironmentReference() EnvironmentReference {
	return EnvironmentReference{Kind: EnvironmentKind, Name: e.Name}
}

// EnvironmentSpec implements EnvironmentObject.
func (e *ClusterEnvironment) EnvironmentSpec() *EnvironmentSpec { return &e.Spec.EnvironmentSpec }

// EnvironmentStatus implements EnvironmentObject.
func (e *ClusterEnvironment) EnvironmentStatus() *EnvironmentStatus { return &e.Status }

// EnvironmentReference implements EnvironmentObject.
func (e *ClusterEnvironment) EnvironmentReference() EnvironmentReference {
	return EnvironmentReference{Kind: ClusterEnvironmentKind, Name: e.Name}
}

// Allows tells whether a namespace, with its labels, is allowed.
func (a AllowedNamespaces) Allows(namespace string, labels map[string]string) (bool, error) {
	if slices.Contains(a.Names, namespace) {
		return true, nil
	}
	if a.Selector == nil {
		return false, nil
	}
	selector, err := metav1.LabelSelectorAsSelector(a.Selector)
	if err != nil {
		return false, fmt.Errorf("spec.allowedNamespaces.selector: %w", err)
	}
	return selector.Matches(k8slabels.Set(labels)), nil
}
