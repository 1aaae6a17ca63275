package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WarehouseKind is the kind of a Freight's origin: the only one.
const WarehouseKind = "Warehouse"

// FreightOrigin is where a Freight comes from: a Warehouse of the
// namespace.
type FreightOrigin struct {
	// kind of the origin.
	// +kubebuilder:validation:Enum=Warehouse
	// +kubebuilder:default=Warehouse
	// +optional
	Kind string `json:"kind,omitempty"`
	// name of the Warehouse.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// FreightSpec is what a Freight carries. It never changes: a new set of
// revisions is a new Freight.
type FreightSpec struct {
	// origin is the Warehouse the Freight comes from; Stages request
	// Freight by origin.
	// +required
	Origin FreightOrigin `json:"origin"`
	// images are the revisions, one per repository, each by digest.
	// +listType=map
	// +listMapKey=repoURL
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +required
	Images []FreightImage `json:"images"`
}

// FreightImage is one image revision of a Freight.
type FreightImage struct {
	// repoURL is the image repository, without tag or digest.
	// +kubebuilder:validation:MinLength=1
	// +required
	RepoURL string `json:"repoURL"`
	// tag the revision was discovered by, for people; the digest decides.
	// +optional
	Tag string `json:"tag,omitempty"`
	// digest of the image manifest (or index).
	// +kubebuilder:validation:Pattern=`^sha256:[a-f0-9]{64}$`
	// +required
	Digest string `json:"digest"`
}

// FreightStatus says where a Freight may go.
type FreightStatus struct {
	// verifiedIn lists the Stages where the Freight passed verification;
	// Stages downstream of them may take it.
	// +listType=map
	// +listMapKey=stage
	// +optional
	VerifiedIn []FreightStageRecord `json:"verifiedIn,omitempty"`
	// approvedFor lists the Stages the Freight may be promoted to without
	// having been verified upstream (kargo approve).
	// +listType=map
	// +listMapKey=stage
	// +optional
	ApprovedFor []FreightStageRecord `json:"approvedFor,omitempty"`
}

// FreightStageRecord records a Stage a Freight was verified in or approved
// for.
type FreightStageRecord struct {
	// stage is the name of the Stage.
	// +kubebuilder:validation:MinLength=1
	// +required
	Stage string `json:"stage"`
	// time it was recorded.
	// +optional
	Time *metav1.Time `json:"time,omitempty"`
	// by names who approved (the user the API server authenticated), for
	// approvals.
	// +optional
	By string `json:"by,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=frt,categories=kargo
// +kubebuilder:printcolumn:name="Alias",type=string,JSONPath=`.alias`
// +kubebuilder:printcolumn:name="Origin",type=string,JSONPath=`.spec.origin.name`
// +kubebuilder:printcolumn:name="Verified In",type=string,JSONPath=`.status.verifiedIn[*].stage`
// +kubebuilder:printcolumn:name="Approved For",type=string,JSONPath=`.status.approvedFor[*].stage`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Freight is one set of image revisions, by digest, that moves from Stage
// to Stage. Its name is a hash of its spec (see internal/freight.Name);
// its spec is immutable.
type Freight struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// alias is a name for people (e.g. sleepy-otter), unique in the
	// namespace by convention; the Warehouse picks one, users may change it.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Alias string `json:"alias,omitempty"`

	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="the spec of a Freight is immutable: a new set of revisions is a new Freight"
	// +required
	Spec   FreightSpec   `json:"spec"`
	Status FreightStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// FreightList contains a list of Freight.
type FreightList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Freight `json:"items"`
}

// IsVerifiedIn tells whether the Freight passed verification in the Stage.
func (f *Freight) IsVerifiedIn(stage string) bool {
	return hasStage(f.Status.VerifiedIn, stage)
}

// IsApprovedFor tells whether the Freight was approved for the Stage.
func (f *Freight) IsApprovedFor(stage string) bool {
	return hasStage(f.Status.ApprovedFor, stage)
}

func hasStage(records []FreightStageRecord, stage string) bool {
	for _, r := range records {
		if r.Stage == stage {
			return true
		}
	}
	return false
}

func init() {
	SchemeBuilder.Register(&Freight{}, &FreightList{})
}
